//! Query strings: each known parameter parsed strictly, naming the parameter on error.
//! Unknown parameters are ignored (clients add new ones over time); a known one given
//! twice is refused.

use std::collections::HashMap;

use enterprise_sso_wire::{codes, ApiErrors};

/// Largest `offset` accepted: skipping costs time in proportion to it.
pub const MAX_OFFSET: usize = 1_000_000;

/// The parsed pairs of a query string.
pub(crate) struct Query {
    pairs: HashMap<String, String>,
}

fn invalid(param: &str, why: &str) -> ApiErrors {
    ApiErrors::single(
        422,
        codes::PARAM_FORMAT_INVALID,
        "is invalid",
        format!("{param} {why}"),
        Some(param),
    )
}

impl Query {
    /// Parses `raw`, refusing a known parameter (`known`) given twice.
    pub(crate) fn parse(raw: Option<&str>, known: &[&str]) -> Result<Query, ApiErrors> {
        let mut pairs = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !known.contains(&k.as_ref()) {
                continue;
            }
            if pairs.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(ApiErrors::single(
                    422,
                    codes::PARAM_DUPLICATE,
                    "is a duplicate",
                    format!("{k} is given more than once"),
                    Some(&k),
                ));
            }
        }
        Ok(Query { pairs })
    }

    /// The text of `name`, if given (an empty value counts as not given).
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.pairs
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An integer in `min..=max`, or `default`.
    pub(crate) fn int(
        &self,
        name: &str,
        min: usize,
        max: usize,
        default: usize,
    ) -> Result<usize, ApiErrors> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| invalid(name, &format!("must be an integer from {min} to {max}"))),
        }
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&self, name: &str) -> Result<Option<bool>, ApiErrors> {
        match self.text(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(invalid(name, "must be true or false")),
        }
    }

    /// A value parsed by `parse`, refused with `why` when it does not parse.
    pub(crate) fn parsed<T>(
        &self,
        name: &str,
        why: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiErrors> {
        self.text(name)
            .map(|v| parse(v).ok_or_else(|| invalid(name, why)))
            .transpose()
    }
}
