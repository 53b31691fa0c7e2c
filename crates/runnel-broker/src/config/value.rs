//! Kafka's config value types (`ConfigDef.Type`), how a raw string becomes a typed value, the
//! validators Kafka attaches to keys, and Kafka's wording when a value is rejected.
//!
//! Parsing follows `ConfigDef.parseType`: the raw string is trimmed of characters <= U+0020
//! (Java's `String.trim`), booleans are case-insensitive, numbers must fit the type, and a list is
//! the trimmed string split on commas with the whitespace around each comma dropped.

use std::fmt;

/// Kafka's `DescribeConfigsResponse.ConfigType`, with its wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum ConfigType {
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

impl ConfigType {
    /// The code DescribeConfigs v3+ sends in `config_type`.
    pub fn code(self) -> i8 {
        self as i8
    }

    /// Kafka treats a value whose type it cannot name as sensitive, to be safe.
    pub fn is_sensitive(self) -> bool {
        matches!(self, ConfigType::Password | ConfigType::Unknown)
    }
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Boolean(bool),
    String(String),
    Int(i32),
    Short(i16),
    Long(i64),
    Double(f64),
    List(Vec<String>),
    Class(String),
    Password(String),
}

impl ConfigValue {
    /// The value as Kafka prints it (`ConfigDef.convertToString`): lists joined with commas,
    /// doubles in Java's `Double.toString` form.
    pub fn to_kafka_string(&self) -> String {
        match self {
            ConfigValue::Boolean(b) => b.to_string(),
            ConfigValue::String(s) | ConfigValue::Class(s) | ConfigValue::Password(s) => s.clone(),
            ConfigValue::Int(n) => n.to_string(),
            ConfigValue::Short(n) => n.to_string(),
            ConfigValue::Long(n) => n.to_string(),
            ConfigValue::Double(d) => java_double_string(*d),
            ConfigValue::List(items) => items.join(","),
        }
    }
}

/// A rejected value, worded as Kafka's `ConfigException(name, value, message)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    pub name: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid value {} for configuration {}: {}", self.value, self.name, self.reason)
    }
}

/// The validators Kafka attaches to keys (`ConfigDef.Range`, `ValidString`, `ValidList`, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Validator {
    None,
    /// `Range.atLeast(min)` on an integer type.
    AtLeast(i64),
    /// `Range.between(min, max)` on an integer type.
    Between(i64, i64),
    /// `Range.between(min, max)` on a double.
    BetweenDouble(f64, f64),
    /// `ValidString.in(...)`, case-sensitive.
    OneOf(&'static [&'static str]),
    /// `ValidList.in(...)`: every element must be one of these.
    ListOf(&'static [&'static str]),
    /// A compression level: within `[min, max]` or exactly the codec's default marker.
    Level { min: i64, max: i64, default: i64 },
    /// `ThrottledReplicaListValidator`: `*` or `partition:broker` pairs.
    ThrottledReplicas,
}

/// Java's `String.trim`: strips every character at or below U+0020 from both ends.
pub(crate) fn java_trim(raw: &str) -> &str {
    raw.trim_matches(|c: char| c <= ' ')
}

/// Parses `raw` as `ty` and applies `validator`, as Kafka does for a key named `name`.
pub(crate) fn parse_value(
    name: &str,
    raw: &str,
    ty: ConfigType,
    validator: Validator,
) -> Result<ConfigValue, InvalidValue> {
    let value = parse_type(name, raw, ty)?;
    validate(name, &value, validator)?;
    Ok(value)
}

fn invalid(name: &str, value: impl fmt::Display, reason: impl Into<String>) -> InvalidValue {
    InvalidValue { name: name.to_string(), value: value.to_string(), reason: reason.into() }
}

fn not_a_number(name: &str, raw: &str, type_name: &str) -> InvalidValue {
    invalid(name, raw, format!("Not a number of type {type_name}"))
}

fn parse_type(name: &str, raw: &str, ty: ConfigType) -> Result<ConfigValue, InvalidValue> {
    let trimmed = java_trim(raw);
    match ty {
        ConfigType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") {
                Ok(ConfigValue::Boolean(true))
            } else if trimmed.eq_ignore_ascii_case("false") {
                Ok(ConfigValue::Boolean(false))
            } else {
                Err(invalid(name, raw, "Expected value to be either true or false"))
            }
        }
        ConfigType::String => Ok(ConfigValue::String(trimmed.to_string())),
        ConfigType::Class => Ok(ConfigValue::Class(trimmed.to_string())),
        ConfigType::Password => Ok(ConfigValue::Password(trimmed.to_string())),
        ConfigType::Int => parse_java_integer::<i32>(trimmed)
            .map(ConfigValue::Int)
            .ok_or_else(|| not_a_number(name, raw, "INT")),
        ConfigType::Short => parse_java_integer::<i16>(trimmed)
            .map(ConfigValue::Short)
            .ok_or_else(|| not_a_number(name, raw, "SHORT")),
        ConfigType::Long => parse_java_integer::<i64>(trimmed)
            .map(ConfigValue::Long)
            .ok_or_else(|| not_a_number(name, raw, "LONG")),
        ConfigType::Double => match trimmed.parse::<f64>() {
            // Java accepts NaN and infinities here, but no Kafka double config means anything
            // with them, and NaN silently passes Kafka's range checks; reject them up front.
            Ok(d) if d.is_finite() => Ok(ConfigValue::Double(d)),
            _ => Err(not_a_number(name, raw, "DOUBLE")),
        },
        ConfigType::List => Ok(ConfigValue::List(parse_list(trimmed))),
        ConfigType::Unknown => Ok(ConfigValue::String(raw.to_string())),
    }
}

/// `Integer.parseInt` and friends: an optional sign then ASCII digits, nothing else.
fn parse_java_integer<T: std::str::FromStr>(s: &str) -> Option<T> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<T>().ok()
}

/// Kafka's LIST parsing of an already trimmed string: empty means no elements; otherwise split on
/// commas (keeping empty elements) with the whitespace next to each comma removed.
pub(crate) fn parse_list(trimmed: &str) -> Vec<String> {
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(',')
        .map(|item| item.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')).to_string())
        .collect()
}

fn validate(name: &str, value: &ConfigValue, validator: Validator) -> Result<(), InvalidValue> {
    match validator {
        Validator::None => Ok(()),
        Validator::AtLeast(min) => match integer_of(value) {
            Some(n) if n < min => Err(invalid(name, n, format!("Value must be at least {min}"))),
            _ => Ok(()),
        },
        Validator::Between(min, max) => match integer_of(value) {
            Some(n) if n < min => Err(invalid(name, n, format!("Value must be at least {min}"))),
            Some(n) if n > max => Err(invalid(name, n, format!("Value must be no more than {max}"))),
            _ => Ok(()),
        },
        Validator::BetweenDouble(min, max) => match value {
            ConfigValue::Double(d) if *d < min => Err(invalid(
                name,
                java_double_string(*d),
                format!("Value must be at least {}", number_string(min)),
            )),
            ConfigValue::Double(d) if *d > max => Err(invalid(
                name,
                java_double_string(*d),
                format!("Value must be no more than {}", number_string(max)),
            )),
            _ => Ok(()),
        },
        Validator::OneOf(valid) => match value {
            ConfigValue::String(s) if !valid.contains(&s.as_str()) => {
                Err(invalid(name, s, format!("String must be one of: {}", valid.join(", "))))
            }
            _ => Ok(()),
        },
        Validator::ListOf(valid) => match value {
            ConfigValue::List(items) => match items.iter().find(|item| !valid.contains(&item.as_str())) {
                Some(bad) => Err(invalid(name, bad, format!("String must be one of: {}", valid.join(", ")))),
                None => Ok(()),
            },
            _ => Ok(()),
        },
        Validator::Level { min, max, default } => match integer_of(value) {
            Some(n) if n > max || (n < min && n != default) => Err(invalid(
                name,
                n,
                format!("Value must be between {min} and {max} or equal to {default}"),
            )),
            _ => Ok(()),
        },
        Validator::ThrottledReplicas => match value {
            ConfigValue::List(items) => {
                let wildcard = items.len() == 1 && java_trim(&items[0]) == "*";
                if wildcard || items.iter().all(|item| is_partition_broker_pair(java_trim(item))) {
                    Ok(())
                } else {
                    Err(invalid(
                        name,
                        items.join(","),
                        format!(
                            "{name} must be the literal '*' or a list of replicas in the following format: \
                             [partitionId]:[brokerId],[partitionId]:[brokerId],..."
                        ),
                    ))
                }
            }
            _ => Ok(()),
        },
    }
}

fn is_partition_broker_pair(item: &str) -> bool {
    match item.split_once(':') {
        Some((partition, broker)) => {
            !partition.is_empty()
                && !broker.is_empty()
                && partition.bytes().all(|b| b.is_ascii_digit())
                && broker.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn integer_of(value: &ConfigValue) -> Option<i64> {
    match value {
        ConfigValue::Int(n) => Some(i64::from(*n)),
        ConfigValue::Short(n) => Some(i64::from(*n)),
        ConfigValue::Long(n) => Some(*n),
        _ => None,
    }
}

/// Range bounds print as the Java `Number` they were declared with: `between(0, 1)` on a
/// double prints `0` and `1`.
fn number_string(bound: f64) -> String {
    if bound.fract() == 0.0 && bound.abs() < 1e15 {
        format!("{}", bound as i64)
    } else {
        java_double_string(bound)
    }
}

/// Java's `Double.toString`: plain decimal with at least one fraction digit for magnitudes in
/// [1e-3, 1e7), otherwise `d.dddE±n`.
pub(crate) fn java_double_string(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    if !d.is_finite() {
        return if d.is_nan() {
            "NaN".into()
        } else if d > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let magnitude = d.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{d}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        // Rust's `{:e}` gives the shortest round-trip digits, as Java does: "1.7976931348623157e308".
        let sci = format!("{d:e}");
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
        format!("{mantissa}E{exponent}")
    }
}
