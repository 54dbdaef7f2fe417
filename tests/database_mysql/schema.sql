-- Every kind of object the MySQL engine keeps: tables with indexes,
-- foreign keys, generated columns and per-column character sets, views on
-- views, triggers, a function and a procedure, AUTO_INCREMENT counters
-- ahead of the rows.
CREATE TABLE customer (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(80) CHARACTER SET latin1 COLLATE latin1_german1_ci NOT NULL,
  email VARCHAR(120) NOT NULL,
  flags BIT(6) DEFAULT b'000001',
  score FLOAT,
  balance DECIMAL(12, 2) NOT NULL DEFAULT 0,
  profile JSON,
  created TIMESTAMP NULL DEFAULT NULL,
  seen DATETIME(3),
  avatar BLOB,
  name_len INT AS (CHAR_LENGTH(name)) VIRTUAL,
  UNIQUE KEY uq_email (email),
  KEY idx_name (name),
  FULLTEXT KEY ft_email (email)
) ENGINE=InnoDB AUTO_INCREMENT=100 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE orders (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  total DECIMAL(10, 2) NOT NULL CHECK (total >= 0),
  note TEXT,
  status ENUM('new', 'paid', 'sent') NOT NULL DEFAULT 'new',
  CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customer (id)
    ON DELETE CASCADE
) ENGINE=InnoDB AUTO_INCREMENT=5000 DEFAULT CHARSET=utf8mb4;

CREATE TABLE order_line (
  order_id BIGINT NOT NULL,
  line INT NOT NULL,
  sku CHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  qty SMALLINT UNSIGNED NOT NULL,
  PRIMARY KEY (order_id, line),
  FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE audit (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  what VARCHAR(200) NOT NULL
) ENGINE=InnoDB AUTO_INCREMENT=1 DEFAULT CHARSET=utf8mb4;

CREATE TABLE doomed (
  k VARCHAR(10) PRIMARY KEY,
  v INT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE VIEW customer_orders AS
  SELECT c.id, c.name, COUNT(o.id) AS orders, SUM(o.total) AS spent
  FROM customer c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
CREATE VIEW big_spenders AS SELECT * FROM customer_orders WHERE spent > 100;

CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW
  INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id));
CREATE TRIGGER orders_bu BEFORE UPDATE ON orders FOR EACH ROW
  SET NEW.note = COALESCE(NEW.note, 'updated');

CREATE FUNCTION with_tax(x DECIMAL(10, 2)) RETURNS DECIMAL(10, 2) DETERMINISTIC
  RETURN x * 1.2;
DELIMITER ;;
CREATE PROCEDURE close_orders(IN who INT)
BEGIN
  UPDATE orders SET status = 'sent' WHERE customer_id = who;
END;;
DELIMITER ;

INSERT INTO customer (name, email, flags, score, balance, profile, created, seen, avatar) VALUES
  ('Müller', 'm@example.com', b'101010', 1.1, 10.50, '{"tier": "gold"}',
   '2024-01-02 03:04:05', '2024-05-06 07:08:09.123', x'00FF0A095C27'),
  ('tab\there', 'tab@example.com', NULL, 3.4028e38, 0, NULL, NULL, NULL, NULL),
  ('Zoë "quotes"', 'z@example.com', b'000000', -0.000001, -3.25, '[1, 2]', NULL,
   '1999-12-31 23:59:59.999', '');
INSERT INTO orders (customer_id, total, note) VALUES
  (100, 99.99, 'first'), (100, 150.00, NULL), (101, 0, 'line\nbreak'), (102, 12.34, 'ü');
INSERT INTO order_line VALUES (5000, 1, 'SKU-0001', 2), (5000, 2, 'SKU-0002', 1),
  (5001, 1, 'SKU-0003', 7);
INSERT INTO doomed VALUES ('a', 1), ('b', 2);
