DROP TABLE user_pins;
DROP TABLE badge_registrations;
DROP TABLE directory_badges;
DROP TABLE directory_users;
