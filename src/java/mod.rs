//! java (being built).
