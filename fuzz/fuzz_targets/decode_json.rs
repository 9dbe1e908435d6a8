//! JSON request decoding: never panics; decoded create bodies go through `build`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = enterprise_sso_wire::decode_create(data) {
        let _ = enterprise_sso::build(&params, enterprise_sso::ConnectionId::generate(), 0);
    }
    let _ = enterprise_sso_wire::decode_update(data);
});
