//! ssl.principal.mapping.rules: Kafka's `SslPrincipalMapper`. A comma-separated list of
//! `DEFAULT` (the distinguished name unchanged) and `RULE:pattern/replacement/[LU]` rules; the
//! first rule whose pattern matches the whole name produces the principal name (Java's
//! `replaceAll` with the replacement, then lower- or upper-cased); no match is an error, and the
//! connection is refused.
//!
//! Patterns are Rust regexes: Java syntax without look-around or back-references, which is what
//! principal rules use in practice; a pattern Rust cannot compile is a startup error. The
//! replacement follows Java's `Matcher.appendReplacement` (`$n` takes as many digits as name an
//! existing group, `${name}`, `\x` is a literal `x`), and, as Kafka does, a `$n` naming no group
//! is kept literally.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// The rule grammar (Kafka's `RULE_PATTERN`): DEFAULT | RULE:pattern/replacement/[LU] | junk.
const RULE_PATTERN: &str = r"(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)";

static RULE_SPLITTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\s*({RULE_PATTERN})\s*(,\s*|$)")).expect("the rule splitter is a valid regex"));
static RULE_PARSER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{RULE_PATTERN})")).expect("the rule parser is a valid regex"));

/// Why the rules cannot be used, or why a name matched none of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("Invalid rule: `{rule}`, unmatched substring: `{rest}`")]
    InvalidRule { rule: String, rest: String },
    #[error("invalid pattern in rule `{rule}`: {reason}")]
    InvalidPattern { rule: String, reason: String },
    #[error("No rules apply to {name}, rules [{rules}]")]
    NoMatchingRule { name: String, rules: String },
    #[error("rule {rule}: illegal replacement for {name}: {reason}")]
    Replacement { rule: String, name: String, reason: String },
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace { source: String, whole: Regex, pattern: Regex, replacement: String, case: Case },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Default => f.write_str("DEFAULT"),
            Rule::Replace { source, replacement, case, .. } => {
                write!(f, "RULE:{source}/{replacement}")?;
                match case {
                    Case::Keep => Ok(()),
                    Case::Lower => f.write_str("/L"),
                    Case::Upper => f.write_str("/U"),
                }
            }
        }
    }
}

/// Parsed ssl.principal.mapping.rules.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

impl PrincipalMapper {
    /// Parses the rules as Kafka does: split at commas outside a rule, each piece must be a
    /// whole rule; empty pieces are ignored.
    pub fn parse(raw: &str) -> Result<PrincipalMapper, MappingError> {
        let mut rules = Vec::new();
        for piece in RULE_SPLITTER.captures_iter(raw.trim()).filter_map(|caps| caps.get(1)) {
            let rule = piece.as_str();
            let Some(caps) = RULE_PARSER.captures(rule) else {
                return Err(MappingError::InvalidRule { rule: rule.to_string(), rest: rule.to_string() });
            };
            let end = caps.get(0).map_or(0, |whole| whole.end());
            if end != rule.len() {
                return Err(MappingError::InvalidRule { rule: rule.to_string(), rest: rule[end..].to_string() });
            }
            if caps.get(1).is_some() {
                rules.push(Rule::Default);
            } else if let Some(source) = caps.get(2) {
                let source = source.as_str().to_string();
                let compile = |pattern: &str| {
                    Regex::new(pattern)
                        .map_err(|error| MappingError::InvalidPattern { rule: rule.to_string(), reason: error.to_string() })
                };
                let case = match caps.get(6).map(|case| case.as_str()) {
                    Some("L") => Case::Lower,
                    Some("U") => Case::Upper,
                    _ => Case::Keep,
                };
                rules.push(Rule::Replace {
                    whole: compile(&format!("^(?:{source})$"))?,
                    pattern: compile(&source)?,
                    source,
                    replacement: caps.get(4).map_or("", |replacement| replacement.as_str()).to_string(),
                    case,
                });
            }
        }
        Ok(PrincipalMapper { rules })
    }

    /// The principal name for a distinguished name.
    pub fn name_for(&self, distinguished_name: &str) -> Result<String, MappingError> {
        for rule in &self.rules {
            if let Some(name) = apply(rule, distinguished_name)? {
                return Ok(name);
            }
        }
        let rules = self.rules.iter().map(Rule::to_string).collect::<Vec<_>>().join(", ");
        Err(MappingError::NoMatchingRule { name: distinguished_name.to_string(), rules })
    }
}

fn apply(rule: &Rule, name: &str) -> Result<Option<String>, MappingError> {
    let Rule::Replace { whole, pattern, replacement, case, .. } = rule else {
        return Ok(Some(name.to_string()));
    };
    if !whole.is_match(name) {
        return Ok(None);
    }
    let replaced = replace_all(pattern, name, replacement)
        .map_err(|reason| MappingError::Replacement { rule: rule.to_string(), name: name.to_string(), reason })?;
    Ok(Some(match case {
        Case::Keep => replaced,
        Case::Lower => replaced.to_lowercase(),
        Case::Upper => replaced.to_uppercase(),
    }))
}

/// Java's `String.replaceAll`: every match, including an empty one right after a non-empty
/// one (so `(.*)` matches twice at the end of the text, as in Java).
fn replace_all(pattern: &Regex, text: &str, replacement: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while search <= text.len() {
        let Some(caps) = pattern.captures_at(text, search) else { break };
        let Some(found) = caps.get(0) else { break };
        out.push_str(&text[copied..found.start()]);
        expand(replacement, &caps, &mut out)?;
        copied = found.end();
        search = if found.is_empty() {
            found.end() + text[found.end()..].chars().next().map_or(1, char::len_utf8)
        } else {
            found.end()
        };
    }
    out.push_str(&text[copied.min(text.len())..]);
    Ok(out)
}

/// Java's `appendReplacement`, with Kafka's rule that a `$n` naming no group is literal.
fn expand(replacement: &str, caps: &regex::Captures<'_>, out: &mut String) -> Result<(), String> {
    let group_count = caps.len() - 1;
    let chars: Vec<char> = replacement.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let literal = chars.get(i + 1).ok_or("character to be escaped is missing")?;
                out.push(*literal);
                i += 2;
            }
            '$' => {
                let next = chars.get(i + 1).copied().ok_or("Illegal group reference: group index is missing")?;
                if next == '{' {
                    let close = chars[i + 2..].iter().position(|&c| c == '}').ok_or("named capturing group is missing trailing '}'")?;
                    let group_name: String = chars[i + 2..i + 2 + close].iter().collect();
                    let value = caps.name(&group_name).ok_or_else(|| format!("No group with name {{{group_name}}}"))?;
                    out.push_str(value.as_str());
                    i += close + 3;
                } else if let Some(first) = next.to_digit(10) {
                    let mut group = first as usize;
                    let mut end = i + 2;
                    while let Some(digit) = chars.get(end).and_then(|c| c.to_digit(10)) {
                        let longer = group * 10 + digit as usize;
                        if longer > group_count {
                            break;
                        }
                        group = longer;
                        end += 1;
                    }
                    if group > group_count {
                        // Kafka escapes a reference to a missing group: it stays literal.
                        out.push('$');
                        i += 1;
                        continue;
                    }
                    out.push_str(caps.get(group).map_or("", |value| value.as_str()));
                    i = end;
                } else {
                    return Err("Illegal group reference".to_string());
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DN: &str = "CN=alice,OU=test,O=runnel";

    fn map(rules: &str, name: &str) -> Result<String, MappingError> {
        PrincipalMapper::parse(rules).expect("valid rules").name_for(name)
    }

    #[test]
    fn default_keeps_the_distinguished_name() {
        assert_eq!(map("DEFAULT", DN).expect("mapped"), DN);
    }

    #[test]
    fn the_first_matching_rule_wins_and_may_change_case() {
        let rules = "RULE:^CN=(.*?),OU=ops,.*$/$1/, RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$3/U, DEFAULT";
        assert_eq!(map(rules, DN).expect("mapped"), "ALICE@RUNNEL");
        assert_eq!(map(rules, "CN=bob,OU=ops,O=x").expect("mapped"), "bob");
        assert_eq!(map(rules, "CN=carol").expect("default"), "CN=carol");
        assert_eq!(map("RULE:^CN=([a-zA-Z]+),.*$/$1/L", "CN=Dave,O=x").expect("lower"), "dave");
    }

    #[test]
    fn no_matching_rule_is_an_error_naming_the_rules() {
        let error = map("RULE:^CN=(.*?),OU=ops$/$1/", DN).expect_err("no match");
        assert_eq!(
            error.to_string(),
            "No rules apply to CN=alice,OU=test,O=runnel, rules [RULE:^CN=(.*?),OU=ops$/$1]"
        );
    }

    #[test]
    fn escaped_slashes_and_commas_inside_rules_are_kept() {
        let mapper = PrincipalMapper::parse(r"RULE:^CN=(.*?)\/x,O=(.*)$/$2\/$1/, DEFAULT").expect("valid");
        assert_eq!(mapper.name_for("CN=a/x,O=b").expect("mapped"), "b/a");
    }

    #[test]
    fn references_to_missing_groups_stay_literal_as_in_kafka() {
        assert_eq!(map("RULE:^CN=(.*?),.*$/$1@$4/", DN).expect("mapped"), "alice@$4");
        // $12 with one group is group 1 followed by a literal 2 (Java's appendReplacement).
        assert_eq!(map("RULE:^CN=(.*?),.*$/$12/", DN).expect("mapped"), "alice2");
    }

    #[test]
    fn replace_all_matches_javas_empty_match_rule() {
        // Java: "abc".replaceAll("(.*)", "[$1]") is "[abc][]".
        assert_eq!(map("RULE:(.*)/[$1]/", "abc").expect("mapped"), "[abc][]");
    }

    #[test]
    fn malformed_rules_are_rejected_at_parse_time() {
        let error = PrincipalMapper::parse("RULE:^CN=(.*)$/$1/Lx").expect_err("trailing junk");
        assert!(error.to_string().contains("unmatched substring: `x`"), "{error}");
        assert!(PrincipalMapper::parse("nonsense").is_err());
        assert!(matches!(PrincipalMapper::parse("RULE:(?<=a)b/x/"), Err(MappingError::InvalidPattern { .. })));
        assert!(PrincipalMapper::parse("").expect("empty").name_for(DN).is_err());
    }
}
