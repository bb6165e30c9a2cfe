//! What the witnesses did: the size of each tenant's log each one cosigned
//! last, and its failed submissions.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::exposition::{Exposition, Kind};

#[derive(Default)]
pub struct WitnessMetrics {
    /// (witness, tenant) → size cosigned last.
    cosigned: Mutex<BTreeMap<(String, String), u64>>,
    /// witness → failed submissions.
    failures: Mutex<BTreeMap<String, u64>>,
}

impl WitnessMetrics {
    /// The witness cosigned the tenant's log at `size`.
    pub fn cosigned(&self, witness: &str, tenant: &str, size: u64) {
        let mut cosigned = self.cosigned.lock().unwrap();
        let entry = cosigned.entry((witness.to_string(), tenant.to_string())).or_default();
        *entry = (*entry).max(size);
    }

    /// A submission to the witness failed (no answer, a refusal, a bad cosignature).
    pub fn failed(&self, witness: &str) {
        *self.failures.lock().unwrap().entry(witness.to_string()).or_default() += 1;
    }

    /// Makes the witness's failure counter show (at zero) before its first failure.
    pub fn known(&self, witness: &str) {
        self.failures.lock().unwrap().entry(witness.to_string()).or_default();
    }

    pub(super) fn render(&self, out: &mut Exposition) {
        let mut sizes = out.family(
            "auditgraph_witness_cosigned_size",
            Kind::Gauge,
            "The size of a tenant's log a witness cosigned last.",
        );
        for ((witness, tenant), size) in self.cosigned.lock().unwrap().iter() {
            sizes.sample(&[("witness", witness), ("tenant", tenant)], size);
        }
        let mut failures = out.family(
            "auditgraph_witness_failures_total",
            Kind::Counter,
            "Checkpoint submissions to a witness that failed: no answer, a refusal, or no valid cosignature.",
        );
        for (witness, n) in self.failures.lock().unwrap().iter() {
            failures.sample(&[("witness", witness)], n);
        }
    }
}
