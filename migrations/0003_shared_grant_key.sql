ALTER TABLE `connections` ADD `grant_key` text;--> statement-breakpoint
CREATE INDEX `connections_grant_key` ON `connections` (`grant_key`);