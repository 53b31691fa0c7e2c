//! `runnel acl create|list|delete`: ACLs, in kafka-acls' vocabulary and layout (CreateAcls,
//! DescribeAcls, DeleteAcls).
//!
//! Owns: turning kafka-acls' options (`--allow-principal`, `--deny-principal`, `--allow-host`,
//! `--deny-host`, repeatable `--operation`, the resource options and
//! `--resource-pattern-type`) into bindings and filters with kafka-acls' rules (hosts default
//! to `*` for the principals given, `--operation` to `All`, operations must suit the resource
//! type, `--cluster` only as a literal), and printing what kafka-acls prints: `Adding ACLs
//! for resource ...` on create, `Current ACLs for resource ...` on list (resources and their
//! entries sorted, where Kafka prints them in hash order). Delete asks before it deletes
//! unless `--force`, as kafka-acls does.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use runnel_client::admin::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, Admin,
    PatternType, ResourcePattern, ResourcePatternFilter, ResourceType, CLUSTER_RESOURCE_NAME,
};
use serde_json::json;

use super::output::{print, print_json};
use super::{Format, GlobalArgs};

/// kafka-acls' default `--operation`.
const OPERATION_DEFAULT: &str = "All";
/// The host a principal gets when no host option names one.
const ANY_HOST: &str = "*";

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  runnel acl create --allow-principal User:alice --operation Write --topic orders\n  \
    runnel acl create --allow-principal User:bob --operation Read --topic orders- --resource-pattern-type prefixed\n  \
    runnel acl create --deny-principal User:mallory --operation All --group payments\n  \
    runnel acl list --topic orders --resource-pattern-type match\n  \
    runnel acl delete --allow-principal User:alice --operation Write --topic orders --force")]
pub struct AclArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: AclCommand,
}

#[derive(Subcommand, Debug)]
pub enum AclCommand {
    /// Add ACLs (kafka-acls --add).
    Create(CreateArgs),
    /// List ACLs, of the resources named or of all (kafka-acls --list).
    List(ListArgs),
    /// Remove ACLs matching the options (kafka-acls --remove).
    Delete(DeleteArgs),
}

/// kafka-acls' `--resource-pattern-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PatternArg {
    Literal,
    Prefixed,
    /// Filters only: every pattern type, the name matched exactly.
    Any,
    /// Filters only: every pattern that covers the named resource.
    Match,
}

impl PatternArg {
    fn pattern_type(self) -> PatternType {
        match self {
            PatternArg::Literal => PatternType::Literal,
            PatternArg::Prefixed => PatternType::Prefixed,
            PatternArg::Any => PatternType::Any,
            PatternArg::Match => PatternType::Match,
        }
    }
}

/// The resources an ACL command is about.
#[derive(Args, Debug, Clone)]
pub struct ResourceArgs {
    /// A topic (repeatable); `*` is every topic.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// A consumer group (repeatable); `*` is every group.
    #[arg(long, value_name = "GROUP")]
    pub group: Vec<String>,
    /// The cluster (literal pattern only).
    #[arg(long)]
    pub cluster: bool,
    /// A transactional id (repeatable); `*` is every one.
    #[arg(long = "transactional-id", value_name = "ID")]
    pub transactional_id: Vec<String>,
    /// How the names match: literal or prefixed; list and delete also take any and match.
    #[arg(long = "resource-pattern-type", value_enum, value_name = "TYPE", default_value = "literal")]
    pub pattern: PatternArg,
}

/// Who the entries are for.
#[derive(Args, Debug, Clone)]
pub struct EntryArgs {
    /// A principal (type:name, e.g. User:alice) to allow (repeatable).
    #[arg(long = "allow-principal", value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// A principal to deny (repeatable).
    #[arg(long = "deny-principal", value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// A host the allowed principals may come from (repeatable) [default: *].
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// A host the denied principals are denied from (repeatable) [default: *].
    #[arg(long = "deny-host", value_name = "HOST")]
    pub deny_host: Vec<String>,
    /// An operation (repeatable): Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens,
    /// TwoPhaseCommit or All [default: All].
    #[arg(long, value_name = "OPERATION")]
    pub operation: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[command(flatten)]
    pub entries: EntryArgs,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Only the ACLs of this principal (repeatable).
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[command(flatten)]
    pub entries: EntryArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(args: AclArgs) -> anyhow::Result<()> {
    let format = args.global.format;
    // Everything the options can get wrong is refused before any connection is made.
    match args.command {
        AclCommand::Create(create) => {
            let plan = create_plan(&create)?;
            create_acls(&args.global.admin().await?, plan, format).await
        }
        AclCommand::List(list) => {
            let filters = pattern_filters(&list.resources)?;
            let principals = list.principal.iter().map(|p| parse_principal(p)).collect::<anyhow::Result<Vec<_>>>()?;
            list_acls(&args.global.admin().await?, filters, principals, format).await
        }
        AclCommand::Delete(delete) => {
            let plan = delete_plan(&delete)?;
            delete_acls(&args.global.admin().await?, plan, delete.force, format).await
        }
    }
}

/// kafka-acls' principal check: `type:name`.
fn parse_principal(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    match text.split_once(':') {
        Some((kind, _)) if !kind.is_empty() => Ok(text.to_string()),
        _ => bail!("expected a string in format principalType:principalName but got {text}"),
    }
}

/// One filter per resource named, in kafka-acls' order (topics, cluster, groups,
/// transactional ids); none when no resource is named.
fn pattern_filters(resources: &ResourceArgs) -> anyhow::Result<Vec<ResourcePatternFilter>> {
    let pattern_type = resources.pattern.pattern_type();
    let mut filters = Vec::new();
    let mut add = |resource_type, name: &str| {
        filters.push(ResourcePatternFilter { resource_type, name: Some(name.trim().to_string()), pattern_type });
    };
    for topic in &resources.topic {
        add(ResourceType::Topic, topic);
    }
    if resources.cluster {
        if pattern_type != PatternType::Literal {
            bail!("--cluster takes only --resource-pattern-type literal (there is one cluster, {CLUSTER_RESOURCE_NAME})");
        }
        add(ResourceType::Cluster, CLUSTER_RESOURCE_NAME);
    }
    for group in &resources.group {
        add(ResourceType::Group, group);
    }
    for id in &resources.transactional_id {
        add(ResourceType::TransactionalId, id);
    }
    let mut seen = BTreeSet::new();
    filters.retain(|filter| seen.insert((filter.resource_type, filter.name.clone())));
    Ok(filters)
}

fn required_filters(resources: &ResourceArgs) -> anyhow::Result<Vec<ResourcePatternFilter>> {
    let filters = pattern_filters(resources)?;
    if filters.is_empty() {
        bail!("You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --transactional-id <id>");
    }
    Ok(filters)
}

/// The entries the options describe: every principal with every operation and host of its
/// permission type, as kafka-acls builds them.
fn entries(args: &EntryArgs) -> anyhow::Result<Vec<AccessControlEntry>> {
    let operations = if args.operation.is_empty() { vec![OPERATION_DEFAULT.to_string()] } else { args.operation.clone() };
    let operations: BTreeSet<AclOperation> = operations
        .iter()
        .map(|name| match name.parse::<AclOperation>() {
            Ok(AclOperation::Any | AclOperation::Unknown) | Err(_) => bail!("unknown operation {name}"),
            Ok(operation) => Ok(operation),
        })
        .collect::<anyhow::Result<_>>()?;
    let mut entries = BTreeSet::new();
    for (principals, hosts, permission_type) in [
        (&args.allow_principal, &args.allow_host, AclPermissionType::Allow),
        (&args.deny_principal, &args.deny_host, AclPermissionType::Deny),
    ] {
        let hosts: Vec<String> =
            if hosts.is_empty() { vec![ANY_HOST.to_string()] } else { hosts.iter().map(|h| h.trim().to_string()).collect() };
        for principal in principals {
            let principal = parse_principal(principal)?;
            for host in &hosts {
                for operation in &operations {
                    entries.insert(AccessControlEntry {
                        principal: principal.clone(),
                        host: host.clone(),
                        operation: *operation,
                        permission_type,
                    });
                }
            }
        }
    }
    Ok(entries.into_iter().collect())
}

/// kafka-acls' check that each operation means something on the resource type.
fn check_operations(resource_type: ResourceType, entries: &[AccessControlEntry]) -> anyhow::Result<()> {
    let supported = resource_type.supported_operations();
    if entries.iter().any(|entry| entry.operation != AclOperation::All && !supported.contains(&entry.operation)) {
        let mut names: Vec<String> = supported.iter().map(|op| op.pascal_name()).collect();
        names.push(AclOperation::All.pascal_name());
        bail!("ResourceType {resource_type} only supports operations {}", names.join(", "));
    }
    Ok(())
}

type Plan = Vec<(ResourcePattern, Vec<AccessControlEntry>)>;

fn create_plan(args: &CreateArgs) -> anyhow::Result<Plan> {
    if matches!(args.resources.pattern, PatternArg::Any | PatternArg::Match) {
        bail!(
            "A '--resource-pattern-type' value of '{}' is not valid when adding acls.",
            args.resources.pattern.pattern_type()
        );
    }
    let filters = required_filters(&args.resources)?;
    let entries = entries(&args.entries)?;
    if entries.is_empty() {
        bail!("You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.");
    }
    filters
        .into_iter()
        .map(|filter| {
            check_operations(filter.resource_type, &entries)?;
            let name = filter.name.unwrap_or_default();
            Ok((ResourcePattern::new(filter.resource_type, name, filter.pattern_type), entries.clone()))
        })
        .collect()
}

/// For each resource filter, the entries to delete (empty: every entry).
fn delete_plan(args: &DeleteArgs) -> anyhow::Result<Vec<(ResourcePatternFilter, Vec<AccessControlEntry>)>> {
    let filters = required_filters(&args.resources)?;
    let principals_given = !args.entries.allow_principal.is_empty() || !args.entries.deny_principal.is_empty();
    let entries = if principals_given { entries(&args.entries)? } else { Vec::new() };
    filters
        .into_iter()
        .map(|filter| {
            check_operations(filter.resource_type, &entries)?;
            Ok((filter, entries.clone()))
        })
        .collect()
}

/// kafka-acls' block for one resource: the header, then one tab-indented line per entry.
fn resource_block(header: &str, entries: &[&AccessControlEntry]) -> String {
    let lines: Vec<String> = entries.iter().map(|entry| format!("\t{entry}")).collect();
    format!("{header}\n{}\n\n", lines.join("\n"))
}

fn binding_json(pattern: &ResourcePattern, entry: &AccessControlEntry) -> serde_json::Value {
    json!({
        "resource_type": pattern.resource_type.name(),
        "resource_name": pattern.name,
        "pattern_type": pattern.pattern_type.name(),
        "principal": entry.principal,
        "host": entry.host,
        "operation": entry.operation.name(),
        "permission_type": entry.permission_type.name(),
    })
}

async fn create_acls(admin: &Admin, plan: Plan, format: Format) -> anyhow::Result<()> {
    let mut created = Vec::new();
    for (pattern, entries) in plan {
        if format == Format::Text {
            // kafka-acls' own spacing: a space after the colon and before the first entry.
            let lines: Vec<String> = entries.iter().map(|entry| format!("\t{entry}")).collect();
            print(&format!("Adding ACLs for resource `{pattern}`: \n {}\n\n", lines.join("\n")))?;
        }
        let bindings: Vec<AclBinding> =
            entries.iter().map(|entry| AclBinding { pattern: pattern.clone(), entry: entry.clone() }).collect();
        for (binding, result) in bindings.iter().zip(admin.create_acls(&bindings).await?) {
            result.with_context(|| format!("cannot add {} for {}", binding.entry, binding.pattern))?;
            created.push(binding_json(&binding.pattern, &binding.entry));
        }
    }
    if format == Format::Json {
        print_json(&json!({ "created": created }))?;
    }
    Ok(())
}

async fn list_acls(admin: &Admin, filters: Vec<ResourcePatternFilter>, principals: Vec<String>, format: Format) -> anyhow::Result<()> {
    let filters = if filters.is_empty() { vec![ResourcePatternFilter::any()] } else { filters };
    let mut acls: BTreeSet<AclBinding> = BTreeSet::new();
    for filter in filters {
        acls.extend(admin.describe_acls(&AclBindingFilter::for_pattern(filter)).await?);
    }
    let by_resource = |principal: Option<&str>| {
        let mut grouped: BTreeMap<&ResourcePattern, Vec<&AccessControlEntry>> = BTreeMap::new();
        for acl in acls.iter().filter(|acl| principal.is_none_or(|p| acl.entry.principal == p)) {
            grouped.entry(&acl.pattern).or_default().push(&acl.entry);
        }
        grouped
    };
    let text_blocks = |grouped: &BTreeMap<&ResourcePattern, Vec<&AccessControlEntry>>| -> String {
        grouped.iter().map(|(pattern, entries)| resource_block(&format!("Current ACLs for resource `{pattern}`:"), entries)).collect()
    };
    match format {
        Format::Text if principals.is_empty() => print(&text_blocks(&by_resource(None))),
        Format::Text => {
            let mut text = String::new();
            for principal in &principals {
                text.push_str(&format!("ACLs for principal `{principal}`\n"));
                text.push_str(&text_blocks(&by_resource(Some(principal))));
            }
            print(&text)
        }
        Format::Json => {
            let shown: Vec<serde_json::Value> = acls
                .iter()
                .filter(|acl| principals.is_empty() || principals.contains(&acl.entry.principal))
                .map(|acl| binding_json(&acl.pattern, &acl.entry))
                .collect();
            print_json(&json!({ "acls": shown }))
        }
    }
}

/// kafka-acls' confirmation: true when the operator answers y.
fn confirm(question: &str) -> anyhow::Result<bool> {
    print(&format!("{question}\n"))?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the answer")?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

async fn delete_acls(
    admin: &Admin,
    plan: Vec<(ResourcePatternFilter, Vec<AccessControlEntry>)>,
    force: bool,
    format: Format,
) -> anyhow::Result<()> {
    let mut deleted = Vec::new();
    for (pattern, entries) in plan {
        if !force {
            let question = if entries.is_empty() {
                format!("Are you sure you want to delete all ACLs for resource filter `{pattern}`? (y/n)")
            } else {
                let lines: Vec<String> = entries.iter().map(|entry| format!("\t{entry}")).collect();
                format!("Are you sure you want to remove ACLs: \n {} \n from resource filter `{pattern}`? (y/n)", lines.join("\n"))
            };
            if !confirm(&question)? {
                continue;
            }
        }
        let filters: Vec<AclBindingFilter> = if entries.is_empty() {
            vec![AclBindingFilter::for_pattern(pattern.clone())]
        } else {
            entries
                .iter()
                .map(|entry| AclBindingFilter {
                    pattern: pattern.clone(),
                    entry: AccessControlEntryFilter {
                        principal: Some(entry.principal.clone()),
                        host: Some(entry.host.clone()),
                        operation: entry.operation,
                        permission_type: entry.permission_type,
                    },
                })
                .collect()
        };
        for result in admin.delete_acls(&filters).await? {
            let matched = result.with_context(|| format!("cannot remove ACLs of {pattern}"))?;
            deleted.extend(matched.iter().map(|acl| binding_json(&acl.pattern, &acl.entry)));
        }
    }
    if format == Format::Json {
        print_json(&json!({ "deleted": deleted }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(topics: &[&str], pattern: PatternArg) -> ResourceArgs {
        ResourceArgs {
            topic: topics.iter().map(|t| t.to_string()).collect(),
            group: Vec::new(),
            cluster: false,
            transactional_id: Vec::new(),
            pattern,
        }
    }

    fn entry_args(allow: &[&str], operations: &[&str]) -> EntryArgs {
        EntryArgs {
            allow_principal: allow.iter().map(|p| p.to_string()).collect(),
            deny_principal: Vec::new(),
            allow_host: Vec::new(),
            deny_host: Vec::new(),
            operation: operations.iter().map(|o| o.to_string()).collect(),
        }
    }

    #[test]
    fn create_builds_one_entry_per_principal_operation_and_host() {
        let args = CreateArgs { resources: resources(&["t"], PatternArg::Literal), entries: entry_args(&["User:a", "User:b"], &["Read", "write"]) };
        let plan = create_plan(&args).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].0.to_string(), "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)");
        let shown: Vec<String> = plan[0].1.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 4);
        assert!(shown.contains(&"(principal=User:b, host=*, operation=WRITE, permissionType=ALLOW)".to_string()));
    }

    #[test]
    fn create_refuses_what_kafka_acls_refuses() {
        let no_principal = CreateArgs { resources: resources(&["t"], PatternArg::Literal), entries: entry_args(&[], &["Read"]) };
        assert!(create_plan(&no_principal).unwrap_err().to_string().contains("--allow-principal"));
        let matching = CreateArgs { resources: resources(&["t"], PatternArg::Match), entries: entry_args(&["User:a"], &["Read"]) };
        assert!(create_plan(&matching).unwrap_err().to_string().contains("'MATCH' is not valid when adding acls"));
        let no_resource = CreateArgs { resources: resources(&[], PatternArg::Literal), entries: entry_args(&["User:a"], &["Read"]) };
        assert!(create_plan(&no_resource).unwrap_err().to_string().contains("at least one resource"));
        let mut cluster = resources(&[], PatternArg::Literal);
        cluster.cluster = true;
        let read_cluster = CreateArgs { resources: cluster, entries: entry_args(&["User:a"], &["Read"]) };
        assert!(create_plan(&read_cluster).unwrap_err().to_string().contains("ResourceType CLUSTER only supports operations"));
        let bad_principal = CreateArgs { resources: resources(&["t"], PatternArg::Literal), entries: entry_args(&["alice"], &["Read"]) };
        assert!(create_plan(&bad_principal).is_err());
        let bad_operation = CreateArgs { resources: resources(&["t"], PatternArg::Literal), entries: entry_args(&["User:a"], &["Fly"]) };
        assert!(create_plan(&bad_operation).is_err());
    }

    #[test]
    fn the_operation_defaults_to_all_and_hosts_to_any() {
        let entries = entries(&entry_args(&["User:a"], &[])).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].operation, entries[0].host.as_str()), (AclOperation::All, "*"));
    }

    #[test]
    fn a_listing_block_is_laid_out_as_kafka_acls_prints_it() {
        let entry = AccessControlEntry {
            principal: "User:a".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission_type: AclPermissionType::Allow,
        };
        assert_eq!(
            resource_block("Current ACLs for resource `X`:", &[&entry, &entry]),
            "Current ACLs for resource `X`:\n\t(principal=User:a, host=*, operation=READ, permissionType=ALLOW)\n\t(principal=User:a, host=*, operation=READ, permissionType=ALLOW)\n\n"
        );
    }
}
