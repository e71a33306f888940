//! Training: the one loop ([`trainer`]) that trains the baseline and every customization
//! strategy, what it needs around it (profiles, schedule, checkpoints, batches and loss), and
//! compute accounting in the paper's PF-seconds ([`compute`]). Strategies (`crate::strategy`)
//! only declare which parameters train; the loop never branches on them.

pub mod baseline;
pub mod batch;
pub mod checkpoint;
pub mod compute;
pub mod finetune;
pub mod schedule;
/// The profile lives at the crate level ([`crate::profile`]): every stage reads it, not only
/// training. Re-exported here for the paths that name it as training settings.
pub use crate::profile as settings;
pub mod trainer;
