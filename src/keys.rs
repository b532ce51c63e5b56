//! The key schema: every Redis key TaskDB reads or writes, in one place.
//!
//! All keys of a namespace share one hash tag, so they live in the cluster slot of the
//! namespace argument itself (the command's declared key) and one server can hold many
//! namespaces. The prefix `P` of a namespace `ns` is:
//!
//! - `{ns}:` when `ns` has no hash tag of its own (the common case, e.g. `{prod}:job:…`);
//! - `{tag}~<len>:ns:` when `ns` holds a non-empty `{tag}` (Redis hashes only `tag`, so we
//!   do too, and the full namespace with its length keeps different namespaces apart).
//!
//! A namespace with a `}` outside a `{tag}` (like `a}b` or `a{}b`) has no such prefix and
//! is refused. Below `P`, each key names its kind; ids come last or are fixed-length UUIDs,
//! so no two entities share a key. See the README's "Key schema" for types and fields.

use crate::error::{Error, Result};

/// The longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;

/// Builds the keys of one namespace.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Vec<u8>,
    ns: Vec<u8>,
}

/// The part of a key that Redis Cluster hashes, as `CLUSTER KEYSLOT` defines it.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

impl Keys {
    /// Validates a namespace and derives its key prefix.
    pub fn new(ns: &[u8]) -> Result<Keys> {
        if ns.is_empty() {
            return Err(Error::invalid("ns", ns, "must not be empty"));
        }
        if ns.len() > MAX_NAMESPACE_LEN {
            return Err(Error::invalid(
                "ns",
                ns,
                format!("must be at most {MAX_NAMESPACE_LEN} bytes"),
            ));
        }
        let tag = hash_tag(ns);
        let mut prefix = Vec::with_capacity(ns.len() * 2 + 8);
        if tag.len() == ns.len() {
            if ns.contains(&b'}') {
                return Err(Error::invalid(
                    "ns",
                    ns,
                    "a '}' is only allowed to close a non-empty {hash tag}",
                ));
            }
            prefix.push(b'{');
            prefix.extend_from_slice(ns);
            prefix.extend_from_slice(b"}:");
        } else {
            prefix.push(b'{');
            prefix.extend_from_slice(tag);
            prefix.extend_from_slice(format!("}}~{}:", ns.len()).as_bytes());
            prefix.extend_from_slice(ns);
            prefix.push(b':');
        }
        Ok(Keys {
            prefix,
            ns: ns.to_vec(),
        })
    }

    /// The namespace these keys belong to.
    pub fn ns(&self) -> &[u8] {
        &self.ns
    }

    fn key(&self, kind: &str, ids: &[&[u8]]) -> Vec<u8> {
        let len = self.prefix.len() + kind.len() + ids.iter().map(|i| i.len() + 1).sum::<usize>();
        let mut k = Vec::with_capacity(len);
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(kind.as_bytes());
        for id in ids {
            k.push(b':');
            k.extend_from_slice(id);
        }
        k
    }

    /// Hash: `seq`, the namespace's creation counter that orders streams, jobs and tasks.
    pub fn meta(&self) -> Vec<u8> {
        self.key("meta", &[])
    }

    /// Hash: one stream's fields.
    pub fn stream(&self, stream_id: &str) -> Vec<u8> {
        self.key("stream", &[stream_id.as_bytes()])
    }

    /// Hash: stream id -> worker type, for every stream of the namespace.
    pub fn streams(&self) -> Vec<u8> {
        self.key("streams", &[])
    }

    /// Hash: worker type -> the user's first stream of that type.
    pub fn user_streams(&self, user_id: &[u8]) -> Vec<u8> {
        self.key("user-streams", &[user_id])
    }

    /// Sorted set: the worker type's streams with ready work, scored by priority (fair).
    pub fn schedule(&self, worker_type: &[u8]) -> Vec<u8> {
        self.key("schedule", &[worker_type])
    }

    /// Sorted set: the worker type's streams with ready work, score 0 (strict order).
    pub fn schedule_strict(&self, worker_type: &[u8]) -> Vec<u8> {
        self.key("schedule-strict", &[worker_type])
    }

    /// Sorted set: a stream's ready tasks, oldest job then oldest task first.
    pub fn queue(&self, stream_id: &str) -> Vec<u8> {
        self.key("queue", &[stream_id.as_bytes()])
    }

    /// Hash: one job's fields.
    pub fn job(&self, job_id: &str) -> Vec<u8> {
        self.key("job", &[job_id.as_bytes()])
    }

    /// List: a job's task ids in creation order.
    pub fn job_tasks(&self, job_id: &str) -> Vec<u8> {
        self.key("job-tasks", &[job_id.as_bytes()])
    }

    /// Hash: job id -> state, for every job of the namespace.
    pub fn jobs(&self) -> Vec<u8> {
        self.key("jobs", &[])
    }

    /// Hash: job id -> "" for every done job (what CLEAR_COMPLETED deletes).
    pub fn done_jobs(&self) -> Vec<u8> {
        self.key("done-jobs", &[])
    }

    /// Hash: user id -> number of the user's running jobs.
    pub fn running_jobs(&self) -> Vec<u8> {
        self.key("running-jobs", &[])
    }

    /// Hash: one task's fields; its job named by creation sequence.
    pub fn task(&self, job_seq: u64, task_id: &[u8]) -> Vec<u8> {
        self.key("task", &[&crate::model::decimal(job_seq), task_id])
    }

    /// Hash: job sequence -> job id, for every job (task keys and queue members name
    /// their job by its sequence: shorter than its id).
    pub fn job_ids(&self) -> Vec<u8> {
        self.key("job-ids", &[])
    }

    /// Sorted set (all scores 0): a job's dependency links, `<pre_len:08x><pre><post>`, so
    /// the dependents of one task are a lexicographic range.
    pub fn dependents(&self, job_id: &str) -> Vec<u8> {
        self.key("dependents", &[job_id.as_bytes()])
    }

    /// Sorted set: running tasks (`job_id:task_id`) scored by lease deadline (ms).
    pub fn leases(&self) -> Vec<u8> {
        self.key("leases", &[])
    }

    /// Hash: job state -> number of jobs in it, for STATS (task counts live on streams).
    pub fn job_counts(&self) -> Vec<u8> {
        self.key("job-counts", &[])
    }
}

/// The hash fields TaskDB reads and writes on hot paths, as names Redis keeps for the
/// life of the process (so no string is allocated per field access).
pub mod field {
    use crate::store::Field;

    /// `be_mult`
    pub static BE_MULT: Field = Field::new(c"be_mult");
    /// `sched`: an entity's hot state packed in one field (see `model::StreamSched`,
    /// `model::TaskSched`, `db::Job::sched`).
    pub static SCHED: Field = Field::new(c"sched");
    /// `created_at`
    pub static CREATED_AT: Field = Field::new(c"created_at");
    /// `error`
    pub static ERROR: Field = Field::new(c"error");
    /// `output`
    pub static OUTPUT: Field = Field::new(c"output");
    /// `prerequisites`
    pub static PREREQUISITES: Field = Field::new(c"prerequisites");
    /// `priority`
    pub static PRIORITY: Field = Field::new(c"priority");
    /// `progress`
    pub static PROGRESS: Field = Field::new(c"progress");
    /// `reserved`
    pub static RESERVED: Field = Field::new(c"reserved");
    /// `reported` (migrated from PostgreSQL)
    pub static REPORTED: Field = Field::new(c"reported");
    /// `state`
    pub static STATE: Field = Field::new(c"state");
    /// `task_def`
    pub static TASK_DEF: Field = Field::new(c"task_def");
    /// `user_id`
    pub static USER_ID: Field = Field::new(c"user_id");
    /// `worker_type`
    pub static WORKER_TYPE: Field = Field::new(c"worker_type");
    /// `worker_id`: who holds (or last held) a task, as REQUEST_WORK WORKER named it.
    pub static WORKER_ID: Field = Field::new(c"worker_id");
}

/// The namespace whose `leases` key is `key`, if it is one (the lease reaper finds
/// namespaces by their lease keys).
pub fn namespace_of_leases(key: &[u8]) -> Option<Vec<u8>> {
    namespace_of(key, "leases")
}

/// The namespace whose `streams` key is `key`, if it is one (INFO finds namespaces by
/// their stream registries).
pub fn namespace_of_streams(key: &[u8]) -> Option<Vec<u8>> {
    namespace_of(key, "streams")
}

fn namespace_of(key: &[u8], kind: &str) -> Option<Vec<u8>> {
    let body = key.strip_suffix(kind.as_bytes())?.strip_suffix(b":")?;
    let inner = body.strip_prefix(b"{")?;
    let close = inner.iter().position(|&b| b == b'}')?;
    let (tag, rest) = (&inner[..close], &inner[close + 1..]);
    let ns = if rest.is_empty() {
        tag.to_vec()
    } else {
        let rest = rest.strip_prefix(b"~")?;
        let colon = rest.iter().position(|&b| b == b':')?;
        let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
        let ns = rest.get(colon + 1..)?;
        if ns.len() != len {
            return None;
        }
        ns.to_vec()
    };
    // Only a namespace whose own key schema gives back `key` is one.
    (Keys::new(&ns).ok()?.key(kind, &[]) == key).then_some(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_give_back_their_namespace() {
        for ns in [
            &b"prod"[..],
            b"tenant-{a}",
            b"a{b",
            b"{x}y:z",
            b"with:leases",
        ] {
            let k = Keys::new(ns).unwrap();
            assert_eq!(namespace_of_leases(&k.leases()).as_deref(), Some(ns));
        }
        assert_eq!(namespace_of_leases(b"{prod}:queue:x"), None);
        assert_eq!(namespace_of_leases(b"leases"), None);
        assert_eq!(namespace_of_leases(b"{a}~9:xx:leases"), None);
        let k = Keys::new(b"{x}y").unwrap();
        assert_eq!(
            namespace_of_streams(&k.streams()).as_deref(),
            Some(&b"{x}y"[..])
        );
    }

    #[test]
    fn plain_namespace_is_wrapped_in_a_tag() {
        let k = Keys::new(b"prod").unwrap();
        assert_eq!(k.meta(), b"{prod}:meta");
        assert_eq!(hash_tag(&k.task(7, b"t")), b"prod");
    }

    #[test]
    fn tagged_namespace_keeps_its_tag() {
        let k = Keys::new(b"tenant-{a}").unwrap();
        assert_eq!(k.meta(), b"{a}~10:tenant-{a}:meta");
        assert_eq!(hash_tag(&k.meta()), hash_tag(b"tenant-{a}"));
        let other = Keys::new(b"{a}").unwrap();
        assert_ne!(k.meta(), other.meta());
    }

    #[test]
    fn unclosed_brace_hashes_whole() {
        let k = Keys::new(b"a{b").unwrap();
        assert_eq!(hash_tag(&k.meta()), b"a{b");
    }

    #[test]
    fn stray_close_brace_is_refused() {
        assert!(Keys::new(b"a}b").is_err());
        assert!(Keys::new(b"a{}b").is_err());
        assert!(Keys::new(b"").is_err());
        assert!(Keys::new(&[b'x'; 300]).is_err());
    }
}
