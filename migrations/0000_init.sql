CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`user_id` text,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`provider` text,
	`connection_id` text,
	`outcome` text NOT NULL,
	`request_id` text,
	`ip` text,
	`detail` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_user_at` ON `audit_events` (`user_id`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_action_at` ON `audit_events` (`action`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit_events` (`at`,`id`);--> statement-breakpoint
CREATE TABLE `connections` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`provider` text NOT NULL,
	`account_id` text NOT NULL,
	`account_email` text,
	`account_name` text,
	`status` text NOT NULL,
	`status_reason` text,
	`scopes` text NOT NULL,
	`access_token_ciphertext` text NOT NULL,
	`refresh_token_ciphertext` text,
	`key_id` text NOT NULL,
	`access_token_expires_at` integer,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_refreshed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `connections_user_provider_account` ON `connections` (`user_id`,`provider`,`account_id`);--> statement-breakpoint
CREATE INDEX `connections_status_expiry` ON `connections` (`status`,`access_token_expires_at`);--> statement-breakpoint
CREATE INDEX `connections_key_id` ON `connections` (`key_id`);--> statement-breakpoint
CREATE TABLE `consents` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`connection_id` text,
	`provider` text NOT NULL,
	`kind` text NOT NULL,
	`scopes` text NOT NULL,
	`missing_scopes` text DEFAULT '' NOT NULL,
	`integration` text,
	`ip` text,
	`user_agent` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `consents_user_created` ON `consents` (`user_id`,`created_at`,`id`);