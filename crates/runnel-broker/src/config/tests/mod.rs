//! Unit tests of the config module, one file per area.

mod broker;
mod describe;
mod listener;
mod properties;
mod ssl;
mod topic;
mod value;

use super::{BrokerConfig, ConfigError, ConfigWarning};

/// Loads a config from override pairs only (no file).
fn load(pairs: &[(&str, &str)]) -> Result<(BrokerConfig, Vec<ConfigWarning>), ConfigError> {
    let overrides: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    BrokerConfig::load(None, &overrides)
}

/// Loads a config that must be valid.
fn config(pairs: &[(&str, &str)]) -> BrokerConfig {
    match load(pairs) {
        Ok((config, _)) => config,
        Err(error) => panic!("config {pairs:?} should load: {error}"),
    }
}

/// The error of a config that must be invalid.
fn error(pairs: &[(&str, &str)]) -> ConfigError {
    match load(pairs) {
        Ok(_) => panic!("config {pairs:?} should be rejected"),
        Err(error) => error,
    }
}
