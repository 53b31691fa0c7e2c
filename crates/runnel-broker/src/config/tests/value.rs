//! Value parsing, validators and Kafka's printing of values.

use crate::config::value::{java_double_string, parse_value, ConfigType, ConfigValue, Validator};

fn ok(ty: ConfigType, raw: &str, validator: Validator) -> ConfigValue {
    parse_value("k", raw, ty, validator).unwrap_or_else(|e| panic!("{raw:?} should parse: {e}"))
}

fn err(ty: ConfigType, raw: &str, validator: Validator) -> String {
    match parse_value("k", raw, ty, validator) {
        Ok(value) => panic!("{raw:?} should be rejected, got {value:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn integers_are_trimmed_and_must_fit_their_type() {
    assert_eq!(ok(ConfigType::Int, " 42 ", Validator::None), ConfigValue::Int(42));
    assert_eq!(ok(ConfigType::Int, "+5", Validator::None), ConfigValue::Int(5));
    assert_eq!(ok(ConfigType::Long, "-9223372036854775808", Validator::None), ConfigValue::Long(i64::MIN));
    assert_eq!(err(ConfigType::Int, "4 2", Validator::None), "Invalid value 4 2 for configuration k: Not a number of type INT");
    assert_eq!(err(ConfigType::Int, "2147483648", Validator::None), "Invalid value 2147483648 for configuration k: Not a number of type INT");
    assert_eq!(err(ConfigType::Short, "40000", Validator::None), "Invalid value 40000 for configuration k: Not a number of type SHORT");
    err(ConfigType::Long, "0x10", Validator::None);
    err(ConfigType::Long, "", Validator::None);
    err(ConfigType::Int, "1.0", Validator::None);
}

#[test]
fn booleans_are_case_insensitive_true_or_false_only() {
    assert_eq!(ok(ConfigType::Boolean, " TRUE ", Validator::None), ConfigValue::Boolean(true));
    assert_eq!(ok(ConfigType::Boolean, "False", Validator::None), ConfigValue::Boolean(false));
    assert_eq!(err(ConfigType::Boolean, "yes", Validator::None), "Invalid value yes for configuration k: Expected value to be either true or false");
}

#[test]
fn doubles_parse_and_reject_non_finite() {
    assert_eq!(ok(ConfigType::Double, "0.25", Validator::None), ConfigValue::Double(0.25));
    assert_eq!(ok(ConfigType::Double, "1e-3", Validator::None), ConfigValue::Double(0.001));
    err(ConfigType::Double, "NaN", Validator::None);
    err(ConfigType::Double, "abc", Validator::None);
}

#[test]
fn lists_split_on_commas_and_trim_around_them() {
    assert_eq!(ok(ConfigType::List, " a, b ,c ", Validator::None), ConfigValue::List(vec!["a".into(), "b".into(), "c".into()]));
    assert_eq!(ok(ConfigType::List, "  ", Validator::None), ConfigValue::List(vec![]));
    assert_eq!(ok(ConfigType::List, "a,,b", Validator::None), ConfigValue::List(vec!["a".into(), "".into(), "b".into()]));
}

#[test]
fn strings_are_trimmed() {
    assert_eq!(ok(ConfigType::String, "  x y \t", Validator::None), ConfigValue::String("x y".into()));
}

#[test]
fn range_validators_use_kafka_wording() {
    assert_eq!(err(ConfigType::Int, "0", Validator::AtLeast(1)), "Invalid value 0 for configuration k: Value must be at least 1");
    assert_eq!(err(ConfigType::Int, "18", Validator::Between(1, 17)), "Invalid value 18 for configuration k: Value must be no more than 17");
    assert_eq!(
        err(ConfigType::Double, "1.5", Validator::BetweenDouble(0.0, 1.0)),
        "Invalid value 1.5 for configuration k: Value must be no more than 1"
    );
    ok(ConfigType::Int, "1", Validator::AtLeast(1));
}

#[test]
fn string_and_list_membership_is_case_sensitive() {
    const VALID: &[&str] = &["CreateTime", "LogAppendTime"];
    assert_eq!(
        err(ConfigType::String, "createtime", Validator::OneOf(VALID)),
        "Invalid value createtime for configuration k: String must be one of: CreateTime, LogAppendTime"
    );
    const POLICIES: &[&str] = &["compact", "delete"];
    ok(ConfigType::List, "compact, delete", Validator::ListOf(POLICIES));
    ok(ConfigType::List, "", Validator::ListOf(POLICIES));
    assert_eq!(
        err(ConfigType::List, "delete,bogus", Validator::ListOf(POLICIES)),
        "Invalid value bogus for configuration k: String must be one of: compact, delete"
    );
}

#[test]
fn compression_levels_allow_the_default_marker() {
    let gzip = Validator::Level { min: 1, max: 9, default: -1 };
    ok(ConfigType::Int, "-1", gzip);
    ok(ConfigType::Int, "9", gzip);
    assert_eq!(err(ConfigType::Int, "0", gzip), "Invalid value 0 for configuration k: Value must be between 1 and 9 or equal to -1");
    err(ConfigType::Int, "10", gzip);
}

#[test]
fn throttled_replicas_are_star_or_partition_broker_pairs() {
    ok(ConfigType::List, "*", Validator::ThrottledReplicas);
    ok(ConfigType::List, "0:1, 1:2", Validator::ThrottledReplicas);
    ok(ConfigType::List, "", Validator::ThrottledReplicas);
    err(ConfigType::List, "0:x", Validator::ThrottledReplicas);
    err(ConfigType::List, "*,0:1", Validator::ThrottledReplicas);
}

#[test]
fn doubles_print_like_java() {
    assert_eq!(java_double_string(0.5), "0.5");
    assert_eq!(java_double_string(1.0), "1.0");
    assert_eq!(java_double_string(123.25), "123.25");
    assert_eq!(java_double_string(0.0001), "1.0E-4");
    assert_eq!(java_double_string(1e7), "1.0E7");
    assert_eq!(java_double_string(f64::MAX), "1.7976931348623157E308");
    assert_eq!(java_double_string(0.0), "0.0");
}

#[test]
fn lists_print_joined_with_commas() {
    assert_eq!(ConfigValue::List(vec!["compact".into(), "delete".into()]).to_kafka_string(), "compact,delete");
    assert_eq!(ConfigValue::Long(i64::MAX).to_kafka_string(), "9223372036854775807");
}

#[test]
fn config_type_codes_are_kafkas() {
    let codes: Vec<i8> = [
        ConfigType::Unknown,
        ConfigType::Boolean,
        ConfigType::String,
        ConfigType::Int,
        ConfigType::Short,
        ConfigType::Long,
        ConfigType::Double,
        ConfigType::List,
        ConfigType::Class,
        ConfigType::Password,
    ]
    .iter()
    .map(|t| t.code())
    .collect();
    assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(ConfigType::Password.is_sensitive() && ConfigType::Unknown.is_sensitive() && !ConfigType::Long.is_sensitive());
}
