DROP TABLE policy_rules;
