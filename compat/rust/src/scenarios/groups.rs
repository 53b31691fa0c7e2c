//! The Groups scenarios (the user story): commits while running, on demand or never, a
//! reset, members joining, leaving, crashing, starting together, and static members.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use runnel_client::consumer::ConsumerRecord;
use runnel_client::producer::{Acks, ProducerRecord};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

use crate::check;
use crate::ctx::{sent_values, values, Ctx, ProduceOpts, COUNT, PARTITIONS, WAIT};
use crate::member::{close_all, read_in_group, Member, MemberOpts, SESSION_TIMEOUT_MS};
use crate::outcome::{wait_until, Outcome, Step};

/// How long auto-commit may take to reach the end offsets (adapterlib: 15 s).
const AUTO_COMMIT_REACHES: Duration = Duration::from_secs(15);
/// b must own a's partition this soon after b closed (the scenario's 5 s, under the 6 s
/// session timeout: only a LeaveGroup makes it).
const LEAVE_BOUND: Duration = Duration::from_secs(5);
const CRASH_SECOND_COUNT: usize = 5;
/// How long a killed child may take to be reaped.
const CHILD_EXIT: Duration = Duration::from_secs(10);
/// After b read the new records, how long it keeps polling to show it reads nothing more.
const CRASH_SETTLE: Duration = Duration::from_millis(500);
const CONCURRENT_MEMBERS: i32 = 6;
/// After the restarted static member got its partition, how long a must stay untouched.
const STATIC_SETTLE: Duration = Duration::from_secs(1);

fn manual() -> MemberOpts {
    MemberOpts { auto_commit: false, instance_id: None }
}

fn all_acks() -> ProduceOpts {
    ProduceOpts::acks(Acks::All)
}

impl Ctx {
    pub fn member(&self, topic: &str, group: &str, name: &str, opts: MemberOpts) -> Member {
        Member::start(&self.bootstrap, topic, group, name, opts)
    }
}

/// Closes the members whatever the body's outcome (adapterlib's `finally: close()`); the
/// body's failure wins over a close failure.
pub async fn finish<T>(body: Step<T>, members: &mut [Member]) -> Step<T> {
    let closed = close_all(members).await;
    let value = body?;
    closed?;
    Ok(value)
}

/// Waits until `member` owns exactly `partitions`.
async fn owns(member: &Member, partitions: &[i32], what: &str, timeout: Duration) -> Step<()> {
    wait_until(timeout, what, || async {
        member.check_alive()?;
        Ok(member.owns(partitions).then_some(()))
    })
    .await
}

/// One member reads every record of `recs`, commits its positions and closes; returns what it read.
pub async fn full_read_commit(ctx: &Ctx, t: &str, g: &str, recs: &[ProducerRecord], label: &str) -> Step<Vec<ConsumerRecord>> {
    let mut a = ctx.member(t, g, label, manual());
    let body = async {
        read_in_group(&a, &sent_values(recs)).await?;
        a.commit().await
    }
    .await;
    finish(body, std::slice::from_mut(&mut a)).await?;
    Ok(a.got())
}

pub async fn auto_commit(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("auto", PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    let recs = ctx.records(&t, COUNT, "r");
    let ends = Ctx::ends(&ctx.produce_ok(&recs, all_acks()).await?);
    let mut a = ctx.member(&t, &g, "a", MemberOpts { auto_commit: true, instance_id: None });
    let body = async {
        read_in_group(&a, &sent_values(&recs)).await?;
        wait_until(AUTO_COMMIT_REACHES, &format!("auto commit reaches {ends:?}"), || async {
            Ok((ctx.committed(&g, &t).await? == ends).then_some(()))
        })
        .await?;
        a.check_alive()
    }
    .await;
    finish(body, std::slice::from_mut(&mut a)).await?;
    Ok(format!("committed {ends:?} while running"))
}

pub async fn manual_commit(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("manual", PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    let recs = ctx.records(&t, COUNT, "r");
    let ends = Ctx::ends(&ctx.produce_ok(&recs, all_acks()).await?);
    let got = full_read_commit(ctx, &t, &g, &recs, "a").await?;
    check!(got.len() == COUNT, "read {} records", got.len());
    let committed = ctx.committed(&g, &t).await?;
    check!(committed == ends, "committed {committed:?}, expected {ends:?}");
    Ok(format!("committed {ends:?}"))
}

pub async fn no_commit(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("nocommit", PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    let recs = ctx.records(&t, COUNT, "r");
    ctx.produce_ok(&recs, all_acks()).await?;
    for run in 1..=2 {
        let mut a = ctx.member(&t, &g, &format!("run{run}"), manual());
        let body = read_in_group(&a, &sent_values(&recs)).await;
        finish(body, std::slice::from_mut(&mut a)).await?;
    }
    let committed = ctx.committed(&g, &t).await?;
    check!(committed.values().all(|o| *o < 0), "offsets were committed: {committed:?}");
    Ok("both runs read all 10; nothing committed".into())
}

pub async fn reset(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("reset", PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    let recs = ctx.records(&t, COUNT, "r");
    let ends = Ctx::ends(&ctx.produce_ok(&recs, all_acks()).await?);
    full_read_commit(ctx, &t, &g, &recs, "first").await?;
    check!(ctx.committed(&g, &t).await? == ends, "first run did not commit the ends");
    let mut r = ctx.member(&t, &g, "reset", manual());
    let body = async {
        owns(&r, &[0, 1], "reset member assigned", WAIT).await?;
        r.seek_to_beginning().await?;
        r.commit_offsets(BTreeMap::from([(0, 0), (1, 0)]), "").await
    }
    .await;
    finish(body, std::slice::from_mut(&mut r)).await?;
    let after = ctx.committed(&g, &t).await?;
    check!(after == BTreeMap::from([(0, 0), (1, 0)]), "after reset: {after:?}");
    let again = full_read_commit(ctx, &t, &g, &recs, "again").await?;
    check!(values(&again) == sent_values(&recs), "re-read differs");
    Ok("reset to 0 and re-read all 10".into())
}

/// a owns both partitions, then b joins and they settle on one each.
async fn two_members(ctx: &Ctx, stem: &str, a_opts: MemberOpts, b_opts: MemberOpts) -> Step<(String, String, Vec<Member>)> {
    let t = ctx.topic(stem, PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    let mut members = vec![ctx.member(&t, &g, "a", a_opts)];
    let body = async {
        owns(&members[0], &[0, 1], "a owns both partitions", WAIT).await?;
        members.push(ctx.member(&t, &g, "b", b_opts));
        one_each(&members[0], &members[1], "a and b own one partition each").await
    }
    .await;
    match body {
        Ok(()) => Ok((t, g, members)),
        Err(error) => finish(Err(error), &mut members).await,
    }
}

/// Waits until a and b both own partitions and together own exactly 0 and 1.
async fn one_each(a: &Member, b: &Member, what: &str) -> Step<()> {
    wait_until(WAIT, what, || async {
        a.check_alive()?;
        b.check_alive()?;
        let (Some(x), Some(y)) = (a.assignment(), b.assignment()) else { return Ok(None) };
        let mut both = [x.clone(), y.clone()].concat();
        both.sort();
        Ok((!x.is_empty() && !y.is_empty() && both == [0, 1]).then_some(()))
    })
    .await
}

pub async fn join(ctx: &Ctx) -> Step<String> {
    let (_t, _g, mut members) = two_members(ctx, "join", manual(), manual()).await?;
    let detail = format!("a {:?}, b {:?}", members[0].assignment().unwrap_or_default(), members[1].assignment().unwrap_or_default());
    members.reverse(); // b closes first, as the other adapters do
    finish(Ok(detail), &mut members).await
}

pub async fn leave(ctx: &Ctx) -> Step<String> {
    let (_t, _g, mut members) = two_members(ctx, "leave", manual(), manual()).await?;
    let body = async {
        let closed_at = Instant::now();
        members[1].close().await?;
        owns(&members[0], &[0, 1], "a owns both after b left", WAIT).await?;
        let took = closed_at.elapsed();
        check!(took < LEAVE_BOUND, "a got both partitions only {:.1}s after b closed", took.as_secs_f64());
        Ok(format!("a owns both {:.1}s after b closed", took.as_secs_f64()))
    }
    .await;
    finish(body, &mut members).await
}

pub async fn crash(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("crash", PARTITIONS, &[]).await?;
    let g = format!("{t}-g");
    ctx.produce_ok(&ctx.records(&t, COUNT, "first"), all_acks()).await?;
    let mut child = tokio::process::Command::new(&ctx.exe)
        .args(["--bootstrap", &ctx.bootstrap, "--child-member", &format!("{t},{g},{COUNT}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Outcome::Fail(format!("cannot start the child member: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| Outcome::Fail("the child has no stdout".into()))?;
    let line = match tokio::time::timeout(WAIT, BufReader::new(stdout).lines().next_line()).await {
        Err(_) => return Err(Outcome::Fail(format!("child printed nothing within {:.0}s", WAIT.as_secs_f64()))),
        Ok(line) => line.map_err(|e| Outcome::Fail(format!("reading the child: {e}")))?.unwrap_or_default(),
    };
    check!(line.trim() == "committed", "child said {line:?}");
    // SIGKILL: the member gets no chance to leave the group.
    child.start_kill().map_err(|e| Outcome::Fail(format!("cannot kill the child: {e}")))?;
    let killed_at = Instant::now();
    let _ = tokio::time::timeout(CHILD_EXIT, child.wait()).await;
    let second = ctx.records(&t, CRASH_SECOND_COUNT, "second");
    ctx.produce_ok(&second, all_acks()).await?;
    let mut b = ctx.member(&t, &g, "b", manual());
    let session = Duration::from_millis(SESSION_TIMEOUT_MS);
    let body = async {
        owns(&b, &[0, 1], "b owns both partitions", session + WAIT).await?;
        let took = killed_at.elapsed();
        read_in_group(&b, &sent_values(&second)).await?;
        tokio::time::sleep(CRASH_SETTLE).await;
        let got = values(&b.got());
        check!(got == sent_values(&second), "b read {} records, expected only the 5 new", got.len());
        Ok(took)
    }
    .await;
    let took = finish(body, std::slice::from_mut(&mut b)).await?;
    check!(
        took >= session / 2,
        "b owned a's partitions {:.1}s after the kill: before a's session expired",
        took.as_secs_f64()
    );
    Ok(format!("b owns both {:.1}s after the kill; read only the 5 uncommitted", took.as_secs_f64()))
}

pub async fn concurrent_joins(ctx: &Ctx) -> Step<String> {
    let t = ctx.topic("concurrent", CONCURRENT_MEMBERS, &[]).await?;
    let g = format!("{t}-g");
    let mut members: Vec<Member> =
        (0..CONCURRENT_MEMBERS).map(|i| ctx.member(&t, &g, &format!("m{i}"), manual())).collect();
    let body = wait_until(WAIT * 2, &format!("{CONCURRENT_MEMBERS} members settle"), || async {
        let mut owned = Vec::new();
        for m in &members {
            m.check_alive()?;
            match m.assignment() {
                Some(a) if !a.is_empty() => owned.push(a),
                _ => return Ok(None),
            }
        }
        let mut flat: Vec<i32> = owned.concat();
        flat.sort();
        Ok((flat == (0..CONCURRENT_MEMBERS).collect::<Vec<_>>()).then_some(owned))
    })
    .await
    .map(|owned| format!("settled: {owned:?}"));
    finish(body, &mut members).await
}

pub async fn static_membership(ctx: &Ctx) -> Step<String> {
    let instance = |id: &str| MemberOpts { auto_commit: false, instance_id: Some(id.to_string()) };
    let (t, g, mut members) = two_members(ctx, "static", instance("static-a"), instance("static-b")).await?;
    let body = async {
        let mine = members[1].assignment().unwrap_or_default();
        let before = members[0].assignments().len();
        members[1].close().await?;
        members[1] = ctx.member(&t, &g, "b2", instance("static-b"));
        wait_until(WAIT, "restarted b assigned", || async {
            members[1].check_alive()?;
            Ok(members[1].assignment().is_some_and(|a| !a.is_empty()).then_some(()))
        })
        .await?;
        tokio::time::sleep(STATIC_SETTLE).await;
        let back = members[1].assignment().unwrap_or_default();
        check!(back == mine, "b came back with {back:?}, had {mine:?}");
        let history = members[0].assignments();
        check!(history.len() == before, "a was rebalanced: {:?}", &history[before.saturating_sub(1)..]);
        Ok(format!("b got {mine:?} back; a kept {:?} throughout", members[0].assignment().unwrap_or_default()))
    }
    .await;
    members.reverse();
    finish(body, &mut members).await
}
