//! A resolved set of typed values (explicit value or default per key) and typed accessors.
//!
//! An accessor that finds no value (a null default) or a value of another type reports it in
//! Kafka's words for a null where one is required; for keys with a non-null default of the
//! right type that cannot happen, and a test pins every default.

use std::collections::BTreeMap;

use super::value::ConfigValue;
use super::ConfigError;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TypedValues {
    values: BTreeMap<&'static str, Option<ConfigValue>>,
}

fn missing(name: &str) -> ConfigError {
    ConfigError::InvalidValue { key: name.to_string(), value: "null".into(), reason: "Value must be non-null".into() }
}

impl TypedValues {
    pub fn insert(&mut self, name: &'static str, value: Option<ConfigValue>) {
        self.values.insert(name, value);
    }

    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.values.get(name).and_then(Option::as_ref)
    }

    pub fn int(&self, name: &str) -> Result<i32, ConfigError> {
        self.opt_int(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i32>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConfigValue::Int(n)) => Ok(Some(*n)),
            Some(_) => Err(missing(name)),
        }
    }

    pub fn short(&self, name: &str) -> Result<i16, ConfigError> {
        match self.get(name) {
            Some(ConfigValue::Short(n)) => Ok(*n),
            _ => Err(missing(name)),
        }
    }

    pub fn long(&self, name: &str) -> Result<i64, ConfigError> {
        self.opt_long(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_long(&self, name: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConfigValue::Long(n)) => Ok(Some(*n)),
            Some(_) => Err(missing(name)),
        }
    }

    pub fn boolean(&self, name: &str) -> Result<bool, ConfigError> {
        match self.get(name) {
            Some(ConfigValue::Boolean(b)) => Ok(*b),
            _ => Err(missing(name)),
        }
    }

    pub fn double(&self, name: &str) -> Result<f64, ConfigError> {
        match self.get(name) {
            Some(ConfigValue::Double(d)) => Ok(*d),
            _ => Err(missing(name)),
        }
    }

    pub fn string(&self, name: &str) -> Result<&str, ConfigError> {
        self.opt_string(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<&str>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConfigValue::String(s)) => Ok(Some(s)),
            Some(_) => Err(missing(name)),
        }
    }

    pub fn list(&self, name: &str) -> Result<&[String], ConfigError> {
        match self.get(name) {
            Some(ConfigValue::List(items)) => Ok(items),
            _ => Err(missing(name)),
        }
    }
}
