// A Cloud Control-like schema with everything beside its tables: a stored function, views over views (one
// calling the function, one named so that name order is the wrong creation order), triggers (one rewrites
// data, as Sakila's do; two on one event, ordered by FOLLOWS), a procedure and an event. They are created
// under a sql_mode of their own, and the procedure with a definer that does not exist (`missingDefiner`).
import { mysqlOptions } from './mysql.js';

export const objectsSqlMode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO';

export function missingDefiner(): { user: string; host: string; text: string } {
  const user = `gmdt_gone_${process.pid}`;
  return { user, host: '%', text: `${user}@%` };
}

export function schemaObjectStatements(): string[] {
  const gone = missingDefiner();
  return [
    'CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, balance DECIMAL(10,2) NOT NULL DEFAULT 0, created DATETIME NULL) ENGINE=InnoDB',
    'CREATE TABLE audit_log (id INT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL, note VARCHAR(100)) ENGINE=InnoDB',
    "INSERT INTO accounts VALUES (1, 'alpha', 10.50, '2026-01-01 00:00:00'), (2, 'béta', 0, '2026-01-02 00:00:00'), (3, 'gamma', 99.99, NULL)",
    "INSERT INTO audit_log (account_id, note) VALUES (1, 'opened'), (2, 'opened')",
    `SET SESSION sql_mode = '${objectsSqlMode}'`,
    'CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2',
    'CREATE VIEW v_accounts AS SELECT id, name, balance FROM accounts WHERE balance >= 0',
    'CREATE VIEW v_rich AS SELECT id, name, double_it(id) AS twice FROM v_accounts WHERE balance > 10',
    'CREATE VIEW a_top AS SELECT name, twice FROM v_rich ORDER BY name',
    'CREATE TRIGGER accounts_created BEFORE INSERT ON accounts FOR EACH ROW SET NEW.created = NOW()',
    "CREATE TRIGGER accounts_named BEFORE INSERT ON accounts FOR EACH ROW FOLLOWS accounts_created SET NEW.name = CONCAT(NEW.name, '')",
    "CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW INSERT INTO audit_log (account_id, note) VALUES (NEW.id, 'opened')",
    `CREATE DEFINER = '${gone.user}'@'${gone.host}' PROCEDURE open_account(IN p_id INT, IN p_name VARCHAR(40)) BEGIN INSERT INTO accounts (id, name) VALUES (p_id, p_name); SELECT p_id; END`,
    "CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE DO DELETE FROM audit_log WHERE id < 0",
    'SET SESSION sql_mode = DEFAULT',
  ];
}

export const objectNames = {
  function: ['double_it'],
  procedure: ['open_account'],
  view: ['a_top', 'v_accounts', 'v_rich'],
  trigger: ['accounts_audit', 'accounts_created', 'accounts_named'],
  event: ['purge_audit'],
} as const;

/** Every view, routine, trigger and event of a schema, from information_schema, sorted: [kind, name]. */
export const objectsSql = `
  SELECT 'view' AS kind, TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?
  UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?
  UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
  UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?
  ORDER BY 1, 2`;

export { mysqlOptions };
