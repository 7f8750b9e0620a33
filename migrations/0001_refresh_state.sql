ALTER TABLE `connections` ADD `refresh_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `refresh_blocked_until` integer;--> statement-breakpoint
ALTER TABLE `connections` ADD `last_refresh_failure` text;