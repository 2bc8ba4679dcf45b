"""The original design's pipeline on synthetic data: raw_events -> cleaned_events ->
daily_report, partitioned by day."""
