ALTER TABLE `connections` ADD `access_token_issued_at` integer;--> statement-breakpoint
ALTER TABLE `connections` ADD `last_refresh_failure_class` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `pending_write_key_id` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `re_encrypt_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `re_encrypt_blocked_until` integer;--> statement-breakpoint
CREATE INDEX `connections_pending_write_key_id` ON `connections` (`pending_write_key_id`);