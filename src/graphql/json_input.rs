//! Input objects of the schema written as JSON (a REST body, a stored
//! filter), coerced as GraphQL coerces variables.

use crate::error::{Error, Result};

/// Refuses fields an input object does not have, as GraphQL's validation does
/// for variables (async-graphql's coercion alone would ignore them).
fn known_fields_only(
    registry: &async_graphql::registry::Registry,
    ty: &str,
    value: &serde_json::Value,
    path: &str,
) -> Result<()> {
    use async_graphql::registry::{MetaType, MetaTypeName};
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| known_fields_only(registry, ty, item, &format!("{path}.{i}"))),
        serde_json::Value::Object(fields) => {
            let name = MetaTypeName::concrete_typename(ty);
            let Some(MetaType::InputObject { input_fields, .. }) = registry.types.get(name) else {
                return Ok(());
            };
            for (key, field) in fields {
                let at = format!("{path}.{key}");
                let known = input_fields
                    .get(key)
                    .ok_or_else(|| Error::bad_input(&at, format!("`{name}` has no field `{key}`")))?;
                known_fields_only(registry, &known.ty, field, &at)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An input object of the schema written as JSON (a REST body, a stored
/// filter), coerced as GraphQL coerces variables; unknown fields are refused.
pub fn parse_json<T: async_graphql::InputType>(json: serde_json::Value, path: &str) -> Result<T> {
    let mut registry = async_graphql::registry::Registry::default();
    let name = T::create_type_info(&mut registry);
    known_fields_only(&registry, &name, &json, path)?;
    let value = async_graphql::Value::from_json(json).map_err(|e| Error::bad_input(path, e.to_string()))?;
    T::parse(Some(value)).map_err(|e| Error::bad_input(path, e.into_server_error(Default::default()).message))
}
