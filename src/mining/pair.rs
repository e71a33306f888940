//! The unit of the dataset: one focal method and one test case that tests it.

use serde::{Deserialize, Serialize};

/// How the test case was mapped to its focal method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Heuristic {
    /// The test name names the focal method (`testFoo`, `fooTest`, …).
    Name,
    /// The test calls exactly one method of the focal class.
    UniqueCall,
}

/// The test framework the test case was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framework {
    Junit3,
    Junit4,
    Junit5,
    Testng,
}

impl Heuristic {
    pub fn as_str(self) -> &'static str {
        match self {
            Heuristic::Name => "name",
            Heuristic::UniqueCall => "unique_call",
        }
    }
}

impl Framework {
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Junit3 => "junit3",
            Framework::Junit4 => "junit4",
            Framework::Junit5 => "junit5",
            Framework::Testng => "testng",
        }
    }
}

/// A focal-method/test-case pair with the focal-class context every focal-context level
/// (FM … FM_FC_MS_FF) is assembled from. Field names are the `pairs` table's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// Stable hash of project id + test file + test class + test method + line.
    pub pair_id: String,
    pub project_id: String,
    /// Paths relative to the checkout root, with `/` separators.
    pub test_file: String,
    pub test_class: String,
    pub test_method: String,
    /// The whole test method, annotations included, as written.
    pub test_body: String,
    pub focal_file: String,
    pub focal_class: String,
    pub focal_method: String,
    /// Modifiers, return type, name and parameters, as written (no body).
    pub focal_signature: String,
    /// The whole focal method as written.
    pub focal_body: String,
    pub heuristic: Heuristic,
    pub framework: Framework,
    /// The focal class's declaration line (modifiers, name, type parameters, extends, implements).
    pub class_signature: String,
    /// Signatures of the focal class's constructors.
    pub constructors: Vec<String>,
    /// Signatures of the focal class's public methods (the focal method included).
    pub method_signatures: Vec<String>,
    /// The focal class's field declarations, as written.
    pub fields: Vec<String>,
}
