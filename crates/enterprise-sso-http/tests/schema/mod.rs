//! The reference OpenAPI excerpt (Clerk Backend API, 2026-05-12) as JSON Schemas, so tests
//! can check every response body against it.
//!
//! OpenAPI 3.0 schemas are not quite JSON Schema: `nullable: true` becomes
//! `anyOf: [{type: null}, <schema>]`, and the `format`s (`int64`) are dropped. References
//! stay `#/components/schemas/…`, resolved inside the document.

use serde_json::{json, Value};

const SPEC: &str = include_str!("../reference/clerk-bapi-enterprise-connections.yml");

fn convert(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            let mut nullable = false;
            for (k, v) in m {
                match k.as_str() {
                    "nullable" => nullable = v == &Value::Bool(true),
                    "format" | "discriminator" | "example" => {}
                    k if k.starts_with("x-") => {}
                    _ => {
                        out.insert(k.clone(), convert(v));
                    }
                }
            }
            if nullable {
                json!({"anyOf": [{"type": "null"}, Value::Object(out)]})
            } else {
                Value::Object(out)
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(convert).collect()),
        other => other.clone(),
    }
}

/// A validator for `components/schemas/{name}`.
pub(crate) fn validator(name: &str) -> jsonschema::Validator {
    let spec: Value = serde_yaml_ng::from_str(SPEC).expect("reference spec parses");
    let schemas = convert(&spec["components"]["schemas"]);
    assert!(schemas.get(name).is_some(), "no schema {name}");
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": {"schemas": schemas},
    });
    jsonschema::validator_for(&root).expect("schema compiles")
}

/// Panics with every violation when `value` does not match `components/schemas/{name}`.
pub(crate) fn check(name: &str, value: &Value) {
    let v = validator(name);
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: {} violation(s):\n{}\nin {value:#}",
        errors.len(),
        errors.join("\n")
    );
}
