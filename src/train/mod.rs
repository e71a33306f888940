pub mod prefix_init;
pub mod strategy;
