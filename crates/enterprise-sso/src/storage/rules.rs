//! The rules every adapter applies the same way before it writes: the compare-and-swap
//! version check, the account immutability rule, and the decoding of ids and domains read
//! back from an index.

use std::str::FromStr;

use crate::account::EnterpriseAccount;
use crate::domain::Domain;
use crate::error::{Error, Result};
use crate::ids::{ConnectionId, RecordId};

/// The compare-and-swap rule every adapter applies before replacing a record: it must exist
/// ([`crate::Error::NotFound`]) and carry the `expected` version
/// ([`crate::Error::VersionConflict`], naming the stored one). Returns the stored record.
pub fn expect_version<T>(
    id: impl Into<RecordId>,
    expected: u64,
    stored: Option<T>,
    version_of: impl Fn(&T) -> u64,
) -> Result<T> {
    let id = id.into();
    let Some(old) = stored else {
        return Err(crate::Error::NotFound { id });
    };
    let actual = version_of(&old);
    if actual != expected {
        return Err(crate::Error::VersionConflict {
            id,
            expected,
            actual,
        });
    }
    Ok(old)
}

/// The account rule: once stored, an account's connection and provider user id never
/// change (only [`EnterpriseAccount::unlinked`] clears the connection, which the adapter's
/// delete does itself). `stored_connection` and `stored_subject` are what the store holds;
/// a caller asking to change them gets [`Error::InvalidArgument`] and nothing is written.
pub fn check_account_keys_unchanged(
    stored_connection: Option<&ConnectionId>,
    stored_subject: Option<&str>,
    next: &EnterpriseAccount,
) -> Result<()> {
    if stored_connection != next.enterprise_connection_id.as_ref() {
        return Err(Error::InvalidArgument {
            argument: "account.enterprise_connection_id",
            reason: "an account's connection cannot change",
        });
    }
    if stored_subject != next.provider_user_id.as_deref() {
        return Err(Error::InvalidArgument {
            argument: "account.provider_user_id",
            reason: "an account's provider user id cannot change",
        });
    }
    Ok(())
}

/// An id read back from an index or column; one that does not parse is
/// [`Error::Corrupt`] naming `what` (the index), with the parser's error as its source.
pub fn stored_id<T>(text: &str, what: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse()
        .map_err(|e| Error::corrupt_with(format!("bad id in {what}"), e))
}

/// A domain read back from an index or column. Stored domains were normalised when they
/// were claimed, so this only checks that the text is still its own normal form
/// (anything else is [`Error::Corrupt`]).
pub fn stored_domain(text: &str) -> Result<Domain> {
    match Domain::parse(text) {
        Ok(d) if d.as_str() == text => Ok(d),
        Ok(_) => Err(Error::corrupt("stored domain is not in normal form")),
        Err(e) => Err(Error::corrupt_with("bad stored domain", e)),
    }
}

/// A version as a signed 64-bit column value; one past `i64::MAX` is [`Error::Corrupt`].
pub fn version_to_i64(version: u64) -> Result<i64> {
    i64::try_from(version).map_err(|e| Error::corrupt_with("version out of range", e))
}

/// A version read from a signed 64-bit column; a negative one is [`Error::Corrupt`].
pub fn version_from_i64(version: i64) -> Result<u64> {
    u64::try_from(version).map_err(|e| Error::corrupt_with("version out of range", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;

    #[test]
    fn stored_values_that_do_not_parse_are_corrupt() {
        assert!(matches!(
            stored_id::<AccountId>("eac_nope", "acc_by_subject"),
            Err(Error::Corrupt {
                source: Some(_),
                ..
            })
        ));
        assert!(matches!(
            stored_domain("Acme.com"),
            Err(Error::Corrupt { .. })
        ));
        assert!(stored_domain("acme.com").is_ok());
        assert!(matches!(
            version_to_i64(u64::MAX),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(version_from_i64(-1), Err(Error::Corrupt { .. })));
    }
}
