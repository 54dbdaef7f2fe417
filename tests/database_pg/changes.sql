-- What a bad deployment does after the snapshot.
UPDATE app.customers SET balance = balance + 10 WHERE id % 4 = 0;
DELETE FROM app.orders WHERE id % 10 = 0;
INSERT INTO app.orders (customer_id, amount, note) SELECT i, 5, 'late' FROM generate_series(1, 30) i;
DROP TABLE public.doomed;
ALTER TABLE app.customers ADD COLUMN nickname text DEFAULT 'anon';
SELECT setval('app.ticket_seq', 99999);
