-- What a bad deployment does after the snapshot: updates, deletes,
-- inserts, a dropped table, an added column, moved AUTO_INCREMENT
-- counters, a new table, a replaced view and a dropped routine.
UPDATE customer SET balance = balance + 1000, name = 'Changed' WHERE id = 100;
DELETE FROM order_line WHERE order_id = 5001;
INSERT INTO orders (customer_id, total, note) VALUES (102, 500, 'late order');
DROP TABLE doomed;
ALTER TABLE customer ADD COLUMN phone VARCHAR(20) NULL;
ALTER TABLE orders AUTO_INCREMENT = 9000;
ALTER TABLE audit AUTO_INCREMENT = 777;
CREATE TABLE added_later (id INT PRIMARY KEY);
INSERT INTO added_later VALUES (1), (2);
CREATE OR REPLACE VIEW big_spenders AS SELECT * FROM customer_orders WHERE spent > 1;
DROP PROCEDURE close_orders;
