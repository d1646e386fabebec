//! Tests in a real browser: headless Chromium driven over WebDriver
//! (chromedriver + fantoccini), against the demo apps served on loopback.
//! `driver` starts the browser and serves attack pages on another site; the
//! tests skip without Chromium, and fail under `CI=true` (`.ci/run` installs it).

pub(crate) mod app;
pub(crate) mod driver;
mod flows;
