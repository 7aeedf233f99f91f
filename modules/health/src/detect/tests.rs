//! Unit tests of the detectors (threshold delays and deadband, ISO 20816 zones, rate, no data, all / any).
