CREATE TABLE `integration_activations` (
	`user_id` text NOT NULL,
	`integration` text NOT NULL,
	`connection_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `integration`)
);
--> statement-breakpoint
CREATE INDEX `integration_activations_connection` ON `integration_activations` (`connection_id`);