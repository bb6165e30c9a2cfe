//! `auditgraph seed`: bulk, deterministic, realistic data for benchmarks.
//! Streamed: each batch is drawn when a writer is free to store it, so at
//! most `--writers` batches exist at once and memory stays flat whatever
//! `--events` is (ten million in one run).

use std::time::Instant;

use chrono::Duration;

use clap::Args;
use futures_util::StreamExt;

use crate::bus::Bus;
use crate::demo::Generator;
use crate::error::Result;
use crate::service;
use crate::service::self_audit::Acting;
use crate::service::unit_of_work::UnitOfWork;
use crate::store::Store;

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// Events to create in all.
    #[arg(long, env = "AUDITGRAPH_SEED_EVENTS")]
    pub events: usize,
    /// New tenants seed-1 … seed-T to spread them over (skewed: the first holds the most).
    #[arg(long, env = "AUDITGRAPH_SEED_TENANTS", default_value_t = 1)]
    pub tenants: usize,
    /// Actors per tenant.
    #[arg(long, env = "AUDITGRAPH_SEED_ACTORS", default_value_t = 2_000)]
    pub actors: usize,
    /// Resources per tenant.
    #[arg(long, env = "AUDITGRAPH_SEED_RESOURCES", default_value_t = 20_000)]
    pub resources: usize,
    /// Days the events span, ending now.
    #[arg(long, env = "AUDITGRAPH_SEED_DAYS", default_value_t = 90)]
    pub days: i64,
    /// Batches stored at once.
    #[arg(long, env = "AUDITGRAPH_SEED_WRITERS", default_value_t = 4)]
    pub writers: usize,
    /// Events per transaction.
    #[arg(long, env = "AUDITGRAPH_SEED_BATCH", default_value_t = 1_000)]
    pub batch: usize,
    /// Receive the events over the `--days` before now, in sequence order, as
    /// a log that has run that long holds them (in its monthly partitions, and
    /// due for retention by age), each occurring up to a minute before it was
    /// received. Without it, every event is received now.
    #[arg(long, env = "AUDITGRAPH_SEED_BACKDATE")]
    pub backdate: bool,
}

/// Splits `total` over `tenants` with weights 1/i (about a third in the first of ten).
pub fn split(total: usize, tenants: usize) -> Vec<usize> {
    let weights: Vec<f64> = (1..=tenants.max(1)).map(|i| 1.0 / i as f64).collect();
    let sum: f64 = weights.iter().sum();
    let mut counts: Vec<usize> = weights.iter().map(|w| (total as f64 * w / sum).floor() as usize).collect();
    let short = total - counts.iter().sum::<usize>();
    counts[0] += short;
    counts
}

/// The sizes of the batches that make `count` events: lazily, never a list.
fn batches(count: usize, batch: usize) -> impl Iterator<Item = usize> {
    (0..count).step_by(batch.max(1)).map(move |start| batch.min(count - start))
}

pub async fn run(store: &Store, args: &SeedArgs) -> Result<()> {
    let bus = Bus::new(1);
    let started = Instant::now();
    let counts = split(args.events, args.tenants);
    let mut done = 0usize;
    let batch = args.batch.clamp(1, crate::domain::event::MAX_BATCH);
    let end = store.now();
    let progress = crate::progress::bar(
        args.events as u64,
        "{bar:30} {human_pos}/{human_len} events, {per_sec}, {msg} ({elapsed}, about {eta} left)",
    );
    for (i, &count) in counts.iter().enumerate() {
        let slug = format!("seed-{}", i + 1);
        let name = format!("Seed tenant {}", i + 1);
        let span = Duration::days(args.days.max(1));
        let tenant = match args.backdate {
            // A history starts with its tenant.
            true => {
                let unit = UnitOfWork::begin_at(store, &bus, end - span).await?;
                service::tenants::create_tenant_in(unit, &slug, Some(&name), Acting::System).await?
            }
            false => service::tenants::create_tenant(store, &bus, &slug, Some(&name), Acting::System).await?,
        };
        let mut generator = Generator::new(1_000 + i as u64, args.actors, args.resources, args.days, end);
        let (actors, resources) = generator.pools();
        store.create_identities(tenant.id, &actors, &resources).await?;
        progress.set_message(format!("tenant {slug}"));
        // Batches are drawn in order (the data is deterministic), each when a
        // writer is free, and stored by several writers at once, so the
        // database can use every core.
        let total_batches = count.div_ceil(batch).max(1) as i32;
        let mut stored = futures_util::stream::iter(batches(count, batch).enumerate())
            .map(|(k, n)| {
                // Backdated batches are received evenly over the span, the last one now.
                let received_at = args.backdate.then(|| end - span + span * (k as i32 + 1) / total_batches);
                let events: Vec<_> = (0..n)
                    .map(|_| match received_at {
                        Some(at) => generator.event_received_at(at),
                        None => generator.event(),
                    })
                    .collect();
                let bus = &bus;
                let tenant = tenant.id;
                async move {
                    let unit = match received_at {
                        Some(at) => UnitOfWork::begin_at(store, bus, at).await?,
                        None => UnitOfWork::begin(store, bus).await?,
                    };
                    service::events::store_batch_at(unit, tenant, events).await.map(|_| n)
                }
            })
            .buffer_unordered(args.writers.max(1));
        while let Some(n) = stored.next().await {
            let n = n?;
            done += n;
            progress.inc(n as u64);
        }
    }
    progress.finish_and_clear();
    eprintln!("updating planner statistics");
    store.analyze().await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {done} events in {} tenants in {secs:.1} s ({:.0} events/s)",
        counts.len(),
        done as f64 / secs.max(0.001)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_cover_the_count_exactly() {
        assert_eq!(super::batches(2_500, 1_000).collect::<Vec<_>>(), [1_000, 1_000, 500]);
        assert_eq!(super::batches(2_000, 1_000).collect::<Vec<_>>(), [1_000, 1_000]);
        assert_eq!(super::batches(0, 1_000).count(), 0);
        assert_eq!(super::batches(10_000_000, 1_000).map(|n| n as u64).sum::<u64>(), 10_000_000);
    }

    #[test]
    fn splits_with_skew() {
        let c = super::split(1_000_000, 10);
        assert_eq!(c.iter().sum::<usize>(), 1_000_000);
        assert!((330_000..350_000).contains(&c[0]), "{c:?}");
        assert!(c.windows(2).all(|w| w[0] >= w[1]));
    }
}
