//! A `metrics` recorder for tests: every counter, gauge and histogram by
//! its name and labels (`name{label=value,...}`, in the order recorded),
//! a histogram as its number of samples.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ::metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata};
use ::metrics::{Recorder, SharedString, Unit};

type Values = Arc<Mutex<HashMap<String, f64>>>;

/// Install it with `metrics::with_local_recorder` (this thread only).
#[derive(Default)]
pub(crate) struct TestRecorder {
    values: Values,
}

impl TestRecorder {
    /// A counter's total, a gauge's value, a histogram's sample count.
    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).copied()
    }

    fn handle(&self, key: &Key) -> Arc<Handle> {
        let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        Arc::new(Handle { name, values: Arc::clone(&self.values) })
    }
}

struct Handle {
    name: String,
    values: Values,
}

impl Handle {
    fn update(&self, f: impl FnOnce(&mut f64)) {
        let mut values = self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(values.entry(self.name.clone()).or_default());
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.update(|v| *v += value as f64);
    }

    fn absolute(&self, value: u64) {
        self.update(|v| *v = v.max(value as f64));
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.update(|v| *v += value);
    }

    fn decrement(&self, value: f64) {
        self.update(|v| *v -= value);
    }

    fn set(&self, value: f64) {
        self.update(|v| *v = value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, _value: f64) {
        self.update(|v| *v += 1.0);
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}
