//! The machinery of the field tables: a connection's fields are listed once, in
//! `connection.rs` (`connection_fields!`, `oidc_fields!`, `saml_fields!`,
//! `attribute_mapping_fields!`), and the code
//! that walks them field by field — the structs, the patch types and their setters, patch
//! composition, the merge, the storage record, equality and the diff behind
//! `connection.updated` — is generated from those lists.
//!
//! A table is a `macro_rules!` macro that calls back: `saml_fields!(cb args...)` expands to
//! `cb! { args... {entry} {entry} ... }`. An entry reads
//!
//! ```text
//! { /// docs
//!   name: kind Type [= blank value] [, clear clear_name] [, stored serde(...)] }
//! ```
//!
//! The kind says how the field is patched, merged, stored and compared:
//!
//! | kind | in the struct | in the patch | `null` in a patch | stored as |
//! |---|---|---|---|---|
//! | `req` | `T` | `Patch<T>` | refused (`NotNullable`) | `T` |
//! | `opt` | `Option<T>` | `Patch<T>` | clears | `Option<T>` |
//! | `dflt` | `T` | `Patch<T>` | resets to `T::default()` | `T` |
//! | `secret` | `Option<T>` | `Patch<T>` | clears | `Option<String>` (exposed) |
//! | `special` | `T` | by hand | by hand | by hand |
//!
//! `req`, `opt`, `dflt` and `secret` are the *plain* kinds: adding such a field is one
//! entry in its table (plus the wire view and any validation rule of its own). A `special`
//! field (derived, nested or with rules of its own) is listed so that the struct, equality
//! and the diff keep their order; every other place handles it by hand. `secret` fields
//! compare in constant time. `clear` names the `clear_…` setter of a nullable kind;
//! `stored` adds a serde attribute to the record field (a field added after records were
//! written needs `serde(default)` or a `default = "…"` function). The blank value (top-level
//! `req` fields only) is what [`crate::build`] starts a new connection from. The lists expand
//! in other modules, so a type outside the prelude is written as a `$crate::` path.
//!
//! Where a field goes, then: a plain field is its table entry, its view on the wire
//! (`enterprise-sso-wire`'s `clerk.rs`) and, if it has one, its validation rule
//! (`validate.rs`). An attribute mapping field is stored by hand too (`map_` + its name, in
//! the SAML record: `storage/codec.rs`).

/// The type a field has in its struct.
macro_rules! field_ty {
    (req $t:ty) => { $t };
    (dflt $t:ty) => { $t };
    (special $t:ty) => { $t };
    (opt $t:ty) => { Option<$t> };
    (secret $t:ty) => { Option<$t> };
}
pub(crate) use field_ty;

/// Whether two values of a field are equal (secrets in constant time).
macro_rules! field_eq {
    (secret, $a:expr, $b:expr) => {
        $crate::fields::secrets_equal($a.as_ref(), $b.as_ref())
    };
    ($kind:ident, $a:expr, $b:expr) => {
        $a == $b
    };
}
pub(crate) use field_eq;

/// Whether two patches of a field are equal (secrets in constant time).
macro_rules! patch_eq {
    (secret, $a:expr, $b:expr) => {
        match (&$a, &$b) {
            ($crate::Patch::Value(a), $crate::Patch::Value(b)) => a.ct_eq(b),
            ($crate::Patch::Absent, $crate::Patch::Absent)
            | ($crate::Patch::Null, $crate::Patch::Null) => true,
            _ => false,
        }
    };
    ($kind:ident, $a:expr, $b:expr) => {
        $a == $b
    };
}
pub(crate) use patch_eq;

/// Calls `cb! { {extra...} entries... }` with only the plain entries (kinds `req`, `opt`,
/// `dflt`, `secret`) of a table: `table!(plain_only cb {extra...} [])`.
macro_rules! plain_only {
    ($cb:ident {$($extra:tt)*} [$($acc:tt)*]) => {
        $cb! { {$($extra)*} $($acc)* }
    };
    // The top-level table's `blank(...)` header is for the struct alone.
    ($cb:ident {$($extra:tt)*} [$($acc:tt)*] blank $header:tt $($rest:tt)*) => {
        $crate::fields::plain_only! { $cb {$($extra)*} [$($acc)*] $($rest)* }
    };
    ($cb:ident {$($extra:tt)*} [$($acc:tt)*]
        { $(#[$m:meta])* $name:ident: special $($entry:tt)* } $($rest:tt)*) => {
        $crate::fields::plain_only! { $cb {$($extra)*} [$($acc)*] $($rest)* }
    };
    ($cb:ident {$($extra:tt)*} [$($acc:tt)*] { $($entry:tt)* } $($rest:tt)*) => {
        $crate::fields::plain_only! { $cb {$($extra)*} [$($acc)* { $($entry)* }] $($rest)* }
    };
}
pub(crate) use plain_only;

/// Constant-time equality of two optional secrets.
pub(crate) fn secrets_equal(
    a: Option<&crate::secret::ClientSecret>,
    b: Option<&crate::secret::ClientSecret>,
) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.ct_eq(b),
        (None, None) => true,
        _ => false,
    }
}
