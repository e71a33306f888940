//! The project-level train/valid/test split.
//!
//! A project's split is a pure function of its id and its checkout's size class: a stable
//! hash of the id maps it to a point `u` in [0, 1), and the size class's rates cut [0, 1) into
//! test, valid and train. Adding projects never moves old ones, and since the size class
//! comes from the checkout itself (its number of test files, see
//! [`crate::acquire::CheckoutStats`]) and not from the miner's output, improving the miner
//! moves no project either.
//!
//! Large projects go to the test split at a higher rate than small ones: the paper customizes
//! 20 test-split projects with ≥ 300 pairs each (Table 2), and in real corpora such projects
//! are a small minority (in Debian's ~600 Java packages with tests, about 100 have ≥ 600
//! `@Test`s), so a flat 10% test split would hold too few of them. The rates below keep most
//! projects (and most small and medium projects' pairs) in training.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Seed of the split hash; changing it reshuffles every project, so it is fixed.
const SPLIT_SEED: u64 = 0x7a11_0c5e;

/// A size class of a checkout, by its number of test files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SizeClass {
    /// No test files at all.
    NoTests,
    /// 1–19 test files.
    Small,
    /// 20–99 test files.
    Medium,
    /// 100–299 test files.
    Large,
    /// 300 or more test files.
    Huge,
}

impl SizeClass {
    pub const ALL: [SizeClass; 5] = [
        SizeClass::NoTests,
        SizeClass::Small,
        SizeClass::Medium,
        SizeClass::Large,
        SizeClass::Huge,
    ];

    pub fn of_test_files(test_files: u64) -> Self {
        match test_files {
            0 => SizeClass::NoTests,
            1..=19 => SizeClass::Small,
            20..=99 => SizeClass::Medium,
            100..=299 => SizeClass::Large,
            _ => SizeClass::Huge,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SizeClass::NoTests => "no_tests",
            SizeClass::Small => "small",
            SizeClass::Medium => "medium",
            SizeClass::Large => "large",
            SizeClass::Huge => "huge",
        }
    }

    /// (test rate, valid rate) of this class; the rest is training.
    pub fn rates(self) -> (f64, f64) {
        match self {
            SizeClass::NoTests => (0.05, 0.05),
            SizeClass::Small => (0.05, 0.05),
            SizeClass::Medium => (0.10, 0.10),
            SizeClass::Large => (0.40, 0.10),
            SizeClass::Huge => (0.60, 0.10),
        }
    }
}

/// One of the three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

/// The project's point in [0, 1), stable across runs, machines and corpus changes.
pub fn unit_hash(project_id: &str) -> f64 {
    // The top 53 bits make an exactly representable fraction.
    (xxh3_64_with_seed(project_id.as_bytes(), SPLIT_SEED) >> 11) as f64 / (1u64 << 53) as f64
}

/// The split of a project.
pub fn assign(project_id: &str, class: SizeClass) -> Split {
    let (test, valid) = class.rates();
    let u = unit_hash(project_id);
    if u < test {
        Split::Test
    } else if u < test + valid {
        Split::Valid
    } else {
        Split::Train
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_keeps_its_split_whatever_else_is_in_the_corpus() {
        let before: Vec<Split> = (0..200)
            .map(|i| assign(&format!("p{i}"), SizeClass::Medium))
            .collect();
        let after: Vec<Split> = (0..200)
            .map(|i| assign(&format!("p{i}"), SizeClass::Medium))
            .collect();
        assert_eq!(before, after);
        assert_eq!(unit_hash("commons-lang3"), unit_hash("commons-lang3"));
    }

    #[test]
    fn large_projects_go_to_test_more_often_than_small_ones() {
        let share = |class| {
            let n = 20_000;
            let tests = (0..n)
                .filter(|i| assign(&format!("project-{i}"), class) == Split::Test)
                .count();
            tests as f64 / n as f64
        };
        let small = share(SizeClass::Small);
        let huge = share(SizeClass::Huge);
        assert!((small - 0.05).abs() < 0.01, "small test share {small}");
        assert!((huge - 0.60).abs() < 0.02, "huge test share {huge}");
    }

    #[test]
    fn size_classes_follow_test_file_counts() {
        assert_eq!(SizeClass::of_test_files(0), SizeClass::NoTests);
        assert_eq!(SizeClass::of_test_files(19), SizeClass::Small);
        assert_eq!(SizeClass::of_test_files(20), SizeClass::Medium);
        assert_eq!(SizeClass::of_test_files(299), SizeClass::Large);
        assert_eq!(SizeClass::of_test_files(300), SizeClass::Huge);
    }
}
