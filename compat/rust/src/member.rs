//! A group member polled continuously in its own task (adapterlib's `Loop`): rebalances
//! only complete inside `poll()`, so the member polls every [`POLL`] and keeps what it read
//! and each assignment it saw after a poll. Other code asks it to commit, seek or close
//! between polls through a command channel, so the consumer is only ever used by its task.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use runnel_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetAndMetadata, OffsetReset, TopicPartition};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::ctx::{POLL, WAIT};
use crate::outcome::{describe, Outcome, Step};

/// Kafka's minimum session timeout, which the card's group scenarios use.
pub const SESSION_TIMEOUT_MS: u64 = 6_000;
pub const HEARTBEAT_INTERVAL_MS: u64 = 500;
pub const AUTO_COMMIT_INTERVAL_MS: u64 = 500;

/// How a member is configured (adapterlib's member() arguments).
#[derive(Debug, Clone, Default)]
pub struct MemberOpts {
    pub auto_commit: bool,
    pub instance_id: Option<String>,
}

/// What the member task shares with the scenario.
#[derive(Default)]
struct State {
    records: Vec<ConsumerRecord>,
    /// Each distinct assignment (sorted partitions) seen after a poll, in order.
    assignments: Vec<Vec<i32>>,
    /// Set when the member stopped on an error.
    error: Option<String>,
}

type Reply<T> = oneshot::Sender<runnel_client::Result<T>>;

enum Command {
    /// Commit the current positions.
    Commit(Reply<()>),
    /// Commit these offsets (partition -> offset) with this metadata.
    CommitOffsets(BTreeMap<i32, i64>, String, Reply<()>),
    Committed(Vec<i32>, Reply<BTreeMap<i32, Option<OffsetAndMetadata>>>),
    SeekToBeginning(Reply<()>),
    Close(Reply<()>),
}

/// The card's member settings: earliest reset, the short session and heartbeat, auto-commit
/// every 500 ms when asked for, and API calls bounded like every other wait.
pub fn member_config(bootstrap: &str, group: &str, opts: MemberOpts) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(bootstrap, Some(group));
    config.auto_offset_reset = OffsetReset::Earliest;
    config.enable_auto_commit = opts.auto_commit;
    config.auto_commit_interval_ms = AUTO_COMMIT_INTERVAL_MS;
    config.session_timeout_ms = SESSION_TIMEOUT_MS;
    config.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS;
    config.group_instance_id = opts.instance_id;
    config.default_api_timeout_ms = u64::try_from(WAIT.as_millis()).unwrap_or(u64::MAX);
    config
}

pub struct Member {
    pub name: String,
    state: Arc<Mutex<State>>,
    commands: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<()>>,
}

impl Member {
    /// Starts a member of `group` subscribed to `topic`, reading from the earliest offset
    /// where nothing is committed.
    pub fn start(bootstrap: &str, topic: &str, group: &str, name: &str, opts: MemberOpts) -> Member {
        let config = member_config(bootstrap, group, opts);
        let state = Arc::new(Mutex::new(State::default()));
        let (commands, inbox) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(config, topic.to_string(), state.clone(), inbox));
        Member { name: name.to_string(), state, commands, task: Some(task) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The last assignment seen after a poll (None before the first poll returned).
    pub fn assignment(&self) -> Option<Vec<i32>> {
        self.state().assignments.last().cloned()
    }

    /// Whether the member owns exactly these partitions now.
    pub fn owns(&self, partitions: &[i32]) -> bool {
        self.assignment().is_some_and(|a| a == partitions)
    }

    /// Every assignment seen so far, in order.
    pub fn assignments(&self) -> Vec<Vec<i32>> {
        self.state().assignments.clone()
    }

    pub fn got(&self) -> Vec<ConsumerRecord> {
        self.state().records.clone()
    }

    /// Fails the scenario if the member stopped on an error.
    pub fn check_alive(&self) -> Step<()> {
        match &self.state().error {
            Some(error) => Err(Outcome::Fail(format!("{} failed: {error}", self.name))),
            None => Ok(()),
        }
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Step<T> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(make(reply)).is_err() {
            return Err(self.not_running());
        }
        match tokio::time::timeout(WAIT, answer).await {
            Err(_) => Err(Outcome::Fail(format!("{}: call not done within {:.0}s", self.name, WAIT.as_secs_f64()))),
            Ok(Err(_)) => Err(self.not_running()),
            Ok(Ok(outcome)) => Ok(outcome?),
        }
    }

    fn not_running(&self) -> Outcome {
        let error = self.state().error.clone().unwrap_or_else(|| "stopped".into());
        Outcome::Fail(format!("{} is not running: {error}", self.name))
    }

    pub async fn commit(&self) -> Step<()> {
        self.call(Command::Commit).await
    }

    pub async fn commit_offsets(&self, offsets: BTreeMap<i32, i64>, metadata: &str) -> Step<()> {
        self.call(|reply| Command::CommitOffsets(offsets, metadata.to_string(), reply)).await
    }

    pub async fn committed(&self, partitions: Vec<i32>) -> Step<BTreeMap<i32, Option<OffsetAndMetadata>>> {
        self.call(|reply| Command::Committed(partitions, reply)).await
    }

    pub async fn seek_to_beginning(&self) -> Step<()> {
        self.call(Command::SeekToBeginning).await
    }

    /// Closes the consumer (commit with auto-commit, leave the group unless static) and ends
    /// the task, within [`WAIT`]. Closing twice is a no-op.
    pub async fn close(&mut self) -> Step<()> {
        let Some(task) = self.task.take() else { return Ok(()) };
        let closed = if task.is_finished() { Ok(()) } else { self.call(Command::Close).await };
        if tokio::time::timeout(WAIT, task).await.is_err() {
            return Err(Outcome::Fail(format!("{}: task did not end within {:.0}s", self.name, WAIT.as_secs_f64())));
        }
        closed
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        // A scenario that failed before closing: stop polling (the consumer's own drop ends
        // its background tasks; the coordinator expires the member).
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run(
    config: ConsumerConfig,
    topic: String,
    state: Arc<Mutex<State>>,
    mut inbox: mpsc::UnboundedReceiver<Command>,
) {
    let fail = |error: String| lock(&state).error = Some(error);
    let mut consumer = match Consumer::new(config).await {
        Ok(consumer) => consumer,
        Err(error) => return fail(describe(&error)),
    };
    if let Err(error) = consumer.subscribe([topic.clone()], ()) {
        return fail(describe(&error));
    }
    loop {
        loop {
            let command = match inbox.try_recv() {
                Ok(command) => command,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    let _ = consumer.close().await;
                    return;
                }
            };
            if let Some(reply) = handle(&mut consumer, &topic, command).await {
                let outcome = consumer.close().await;
                let _ = reply.send(outcome);
                return;
            }
        }
        let records = match consumer.poll(POLL).await {
            Ok(records) => records,
            Err(error) => return fail(describe(&error)),
        };
        let assignment: Vec<i32> = consumer.assignment().into_iter().map(|tp| tp.partition).collect();
        let mut state = lock(&state);
        state.records.extend(records);
        if state.assignments.last() != Some(&assignment) {
            state.assignments.push(assignment);
        }
    }
}

/// Runs one command; returns the close reply when the command was Close.
async fn handle(consumer: &mut Consumer, topic: &str, command: Command) -> Option<Reply<()>> {
    let tp = |p: i32| TopicPartition::new(topic, p);
    match command {
        Command::Commit(reply) => {
            let _ = reply.send(consumer.commit().await);
        }
        Command::CommitOffsets(offsets, metadata, reply) => {
            let offsets = offsets.into_iter().map(|(p, offset)| {
                (tp(p), OffsetAndMetadata { offset, metadata: metadata.clone(), leader_epoch: None })
            });
            let _ = reply.send(consumer.commit_offsets(offsets).await);
        }
        Command::Committed(partitions, reply) => {
            let asked: Vec<TopicPartition> = partitions.iter().map(|p| tp(*p)).collect();
            let outcome = consumer
                .committed(&asked)
                .await
                .map(|found| found.into_iter().map(|(tp, o)| (tp.partition, o)).collect());
            let _ = reply.send(outcome);
        }
        Command::SeekToBeginning(reply) => {
            let _ = reply.send(consumer.seek_to_beginning(&[]));
        }
        Command::Close(reply) => return Some(reply),
    }
    None
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state is a log of observations, consistent after every statement.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until `member` has read every value in `want` (adapterlib's _read_in_group).
pub async fn read_in_group(member: &Member, want: &[Option<bytes::Bytes>]) -> Step<()> {
    let what = format!("{} records read by {}", want.len(), member.name);
    crate::outcome::wait_until(WAIT, &what, || async {
        member.check_alive()?;
        let have: std::collections::BTreeSet<Option<bytes::Bytes>> =
            member.got().into_iter().map(|r| r.value).collect();
        Ok(want.iter().all(|w| have.contains(w)).then_some(()))
    })
    .await
}

/// Closes every member, reporting the first failure.
pub async fn close_all(members: &mut [Member]) -> Step<()> {
    let mut first = Ok(());
    for member in members.iter_mut() {
        let closed = member.close().await;
        if first.is_ok() {
            first = closed;
        }
    }
    first
}
