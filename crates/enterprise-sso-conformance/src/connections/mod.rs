//! Connection cases, by concern.

mod certificates;
mod concurrency;
mod crud;
mod domains;
mod listing;
mod routing;

pub use certificates::*;
pub use concurrency::*;
pub use crud::*;
pub use domains::*;
pub use listing::*;
pub use routing::*;
