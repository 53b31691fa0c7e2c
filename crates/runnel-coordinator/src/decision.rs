//! A decision (the responses and records one `handle` or `tick` produces) and the builder that
//! produces it. The builder keeps a scratch copy of every group it touches and applies each
//! record to that copy as it is emitted, with the same function `replay` uses, so handlers
//! read the state their own records create and the responses are computed from exactly the
//! state replay will produce.

use std::collections::BTreeMap;

use crate::config::CoordinatorConfig;
use crate::coordinator::GroupCoordinator;
use crate::group::ClassicGroup;
use crate::group_replay::apply_to_slot;
use crate::history::{apply_to_history, HistoryStore};
use crate::record::{GroupEvent, Record};
use crate::request::{RequestId, Response};

/// What the coordinator decided: responses to send once `records` are written (the persisted
/// ones) and replayed (all of them, in order).
#[derive(Debug, Clone)]
pub struct Decision {
    pub responses: Vec<(RequestId, Response)>,
    pub records: Vec<Record>,
    /// The touched groups as the decision left them, checked by
    /// [`GroupCoordinator::replay_decision`]; filled in debug builds only.
    pub(crate) expected_groups: Vec<(String, Option<ClassicGroup>)>,
}

impl Decision {
    /// Nothing to write and nothing to answer.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty() && self.records.is_empty()
    }

    /// The records to write to `__consumer_offsets`.
    pub fn persisted_records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.persisted())
    }

    /// Whether the broker has anything to write before answering.
    pub fn needs_write(&self) -> bool {
        self.records.iter().any(Record::persisted)
    }
}

/// Builds a decision against a read-only coordinator.
pub(crate) struct Emitter<'a> {
    pub(crate) coordinator: &'a GroupCoordinator,
    pub(crate) now_ms: i64,
    scratch: BTreeMap<String, Option<ClassicGroup>>,
    /// Histories as this decision has left them, copied on first change.
    histories: BTreeMap<String, Option<HistoryStore>>,
    records: Vec<Record>,
    responses: Vec<(RequestId, Response)>,
    retention_check_at_ms: Option<Option<i64>>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(coordinator: &'a GroupCoordinator, now_ms: i64) -> Self {
        Self {
            coordinator,
            now_ms,
            scratch: BTreeMap::new(),
            histories: BTreeMap::new(),
            records: Vec::new(),
            responses: Vec::new(),
            retention_check_at_ms: None,
        }
    }

    pub(crate) fn config(&self) -> &'a CoordinatorConfig {
        &self.coordinator.config
    }

    /// The group as this decision has left it so far.
    pub(crate) fn group(&self, group_id: &str) -> Option<&ClassicGroup> {
        match self.scratch.get(group_id) {
            Some(slot) => slot.as_ref(),
            None => self.coordinator.groups.get(group_id),
        }
    }

    /// The group's stored history as this decision has left it so far.
    pub(crate) fn history(&self, group_id: &str) -> Option<&HistoryStore> {
        match self.histories.get(group_id) {
            Some(slot) => slot.as_ref(),
            None => self.coordinator.histories.get(group_id),
        }
    }

    /// Every group id, as this decision has left them so far.
    pub(crate) fn group_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .coordinator
            .groups
            .keys()
            .filter(|id| !matches!(self.scratch.get(*id), Some(None)))
            .cloned()
            .collect();
        ids.extend(
            self.scratch
                .iter()
                .filter(|(id, slot)| slot.is_some() && !self.coordinator.groups.contains_key(*id))
                .map(|(id, _)| id.clone()),
        );
        ids.sort();
        ids
    }

    pub(crate) fn retention_check_at_ms(&self) -> Option<i64> {
        self.retention_check_at_ms.unwrap_or(self.coordinator.retention_check_at_ms)
    }

    pub(crate) fn emit(&mut self, record: Record) {
        match &record {
            Record::RetentionCheckScheduled { at_ms } => self.retention_check_at_ms = Some(Some(*at_ms)),
            _ => {
                if let Some(group_id) = record.group_id() {
                    let base = self.coordinator.groups.get(group_id);
                    let slot = self.scratch.entry(group_id.to_owned()).or_insert_with(|| base.cloned());
                    apply_to_slot(group_id, slot, &record);
                    if matches!(
                        record,
                        Record::GroupHistory { .. } | Record::GroupHistoryTombstone { .. } | Record::GroupTombstone { .. }
                    ) {
                        let base = self.coordinator.histories.get(group_id);
                        let slot = self.histories.entry(group_id.to_owned()).or_insert_with(|| base.cloned());
                        apply_to_history(slot, &record);
                    }
                }
            }
        }
        self.records.push(record);
    }

    pub(crate) fn event(&mut self, group_id: &str, event: GroupEvent) {
        self.emit(Record::Group { group_id: group_id.to_owned(), event });
    }

    /// Emits the group's current persisted view as its GroupMetadata record.
    pub(crate) fn emit_group_metadata(&mut self, group_id: &str) {
        let Some(value) = self.group(group_id).and_then(ClassicGroup::persisted_view) else {
            debug_assert!(false, "group {group_id} cannot be persisted now");
            return;
        };
        self.emit(Record::GroupMetadata { group_id: group_id.to_owned(), value });
    }

    pub(crate) fn respond(&mut self, id: RequestId, response: Response) {
        debug_assert!(
            self.responses.iter().all(|(answered, _)| *answered != id),
            "request {id:?} answered twice in one decision"
        );
        self.responses.push((id, response));
    }

    pub(crate) fn finish(self) -> Decision {
        #[cfg(debug_assertions)]
        for group in self.scratch.values().flatten() {
            if let Err(violation) = group.check_invariants() {
                panic!("decision breaks an invariant: {violation}");
            }
        }
        let expected_groups =
            if cfg!(debug_assertions) { self.scratch.into_iter().collect() } else { Vec::new() };
        Decision { responses: self.responses, records: self.records, expected_groups }
    }
}
