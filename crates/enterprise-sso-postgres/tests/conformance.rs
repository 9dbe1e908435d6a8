//! The core conformance suite on a real PostgreSQL server, each test in its own schema.
#![allow(clippy::unwrap_used)]

mod common;

mod conformance {
    use super::common;
    enterprise_sso::conformance_tests!(if common::available, || (
        common::fresh("conf"),
        ()
    ));
}
