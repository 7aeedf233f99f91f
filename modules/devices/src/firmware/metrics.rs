//! The firmware actor's metrics, described and set to zero at start.

pub fn describe() {
    use metrics::describe_counter;
    describe_counter!(
        "plantd_firmware_reports_total",
        "firmware/status reports applied, by state"
    );
    describe_counter!(
        "plantd_firmware_reports_ignored_total",
        "firmware/status reports ignored (malformed, unknown campaign, not a target, already final), by reason"
    );
    describe_counter!(
        "plantd_firmware_timeouts_total",
        "devices that missed a campaign deadline (retried or failed)"
    );
    describe_counter!(
        "plantd_firmware_devices_finished_total",
        "devices that finished a campaign, by state (done, failed)"
    );
    describe_counter!(
        "plantd_firmware_save_errors_total",
        "writes of campaign progress that failed (kept and retried)"
    );
    describe_counter!(
        "plantd_firmware_uploads_dropped_total",
        "image uploads dropped and their files removed, by reason (aborted, too_large, refused, empty, quota, idle, error)"
    );
    describe_counter!(
        "plantd_firmware_uploads_refused_total",
        "image uploads refused by a quota, by quota (firmware_max_images, firmware_max_total_bytes)"
    );
    describe_counter!(
        "plantd_firmware_images_deleted_total",
        "firmware images deleted (row kept for campaign history, bytes removed)"
    );
    describe_counter!(
        "plantd_firmware_report_fields_clipped_total",
        "firmware/status fields clipped to their size limit before they were kept, by field (detail, version)"
    );
    for field in ["detail", "version"] {
        metrics::counter!("plantd_firmware_report_fields_clipped_total", "field" => field)
            .absolute(0);
    }
    for state in ["downloading", "installing", "done", "failed"] {
        metrics::counter!("plantd_firmware_reports_total", "state" => state).absolute(0);
    }
    metrics::counter!("plantd_firmware_timeouts_total").absolute(0);
    for quota in ["firmware_max_images", "firmware_max_total_bytes"] {
        metrics::counter!("plantd_firmware_uploads_refused_total", "quota" => quota).absolute(0);
    }
}
