//! Measures of a checkout taken from its files alone (see [`CheckoutStats`]).

use std::path::Path;

use anyhow::Context;

use super::CheckoutStats;

/// Walk `root` without following links (a link is neither counted nor entered) and without
/// entering `.git`, summing every regular file, and `.java` files and test-looking `.java`
/// files separately.
pub fn checkout_stats(root: &Path) -> anyhow::Result<CheckoutStats> {
    let meta = std::fs::metadata(root)
        .with_context(|| format!("cannot read checkout {}", root.display()))?;
    anyhow::ensure!(meta.is_dir(), "checkout {} is not a folder", root.display());
    let mut stats = CheckoutStats::default();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !(e.depth() > 0 && e.file_type().is_dir() && e.file_name() == ".git"));
    for entry in walk {
        // An unreadable corner (permissions) is skipped, not fatal: stats are descriptive.
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file()
            || (entry.depth() == 1 && entry.file_name() == super::cache::MARKER)
        {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        stats.size_bytes += meta.len();
        let name = entry.file_name().to_string_lossy();
        let Some(stem) = name.strip_suffix(".java") else {
            continue;
        };
        stats.java_files += 1;
        stats.java_bytes += meta.len();
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if looks_like_test(rel, stem) {
            stats.test_files += 1;
        }
    }
    Ok(stats)
}

/// A `test`/`tests` folder on the way, or a test-like file name.
fn looks_like_test(rel: &Path, stem: &str) -> bool {
    let in_test_folder = rel.parent().is_some_and(|p| {
        p.components().any(|c| {
            let c = c.as_os_str().to_string_lossy().to_ascii_lowercase();
            c == "test" || c == "tests"
        })
    });
    in_test_folder
        || stem.starts_with("Test")
        || ["Test", "Tests", "IT", "TestCase"]
            .iter()
            .any(|s| stem.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_are_recognised_by_folder_or_name() {
        assert!(looks_like_test(
            Path::new("src/test/java/a/Foo.java"),
            "Foo"
        ));
        assert!(looks_like_test(
            Path::new("src/main/java/a/FooTest.java"),
            "FooTest"
        ));
        assert!(looks_like_test(Path::new("x/TestFoo.java"), "TestFoo"));
        assert!(looks_like_test(Path::new("x/FooIT.java"), "FooIT"));
        assert!(!looks_like_test(
            Path::new("src/main/java/a/Foo.java"),
            "Foo"
        ));
        assert!(!looks_like_test(
            Path::new("src/main/java/testing/Foo.java"),
            "Foo"
        ));
    }
}
