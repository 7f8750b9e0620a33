ALTER TABLE `connections` ADD `refresh_failing_since` integer;--> statement-breakpoint
ALTER TABLE `connections` ADD `refresh_failure_reported_at` integer;