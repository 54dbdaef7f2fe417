-- A schema with every kind of object the PostgreSQL engine must keep.
DO $$ BEGIN CREATE ROLE rbt_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application schema';
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.point3 AS (x double precision, y double precision, z double precision);
CREATE SEQUENCE app.ticket_seq START 100;
SELECT setval('app.ticket_seq', 4242);
CREATE TABLE app.customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    mood app.mood NOT NULL DEFAULT 'ok',
    created timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00',
    balance numeric(12, 2) NOT NULL DEFAULT 0 CHECK (balance >= -1000),
    location app.point3
);
COMMENT ON TABLE app.customers IS 'people who buy things';
COMMENT ON COLUMN app.customers.email IS 'login name';
CREATE TABLE app.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE,
    ticket int NOT NULL DEFAULT nextval('app.ticket_seq'),
    amount numeric(10, 2) NOT NULL,
    note text,
    tags text[],
    payload jsonb,
    raw bytea,
    CONSTRAINT amount_positive CHECK (amount > 0)
);
CREATE INDEX orders_customer_idx ON app.orders (customer_id);
CREATE INDEX orders_note_lower_idx ON app.orders (lower(note)) WHERE note IS NOT NULL;
CREATE TABLE app.audit (
    id serial PRIMARY KEY,
    order_id bigint,
    what text NOT NULL
);
CREATE TABLE public.doomed (k int PRIMARY KEY, v text);
CREATE FUNCTION app.order_total(cid int) RETURNS numeric
    LANGUAGE sql STABLE AS $$ SELECT coalesce(sum(amount), 0) FROM app.orders WHERE customer_id = cid $$;
CREATE FUNCTION app.audit_order() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.audit (order_id, what) VALUES (NEW.id, TG_OP);
    RETURN NEW;
END $$;
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON app.orders
    FOR EACH ROW EXECUTE FUNCTION app.audit_order();
CREATE VIEW app.customer_totals AS
    SELECT c.id, c.email, app.order_total(c.id) AS total FROM app.customers c;
CREATE MATERIALIZED VIEW app.mood_counts AS
    SELECT mood, count(*) AS n FROM app.customers GROUP BY mood;
GRANT USAGE ON SCHEMA app TO rbt_reader;
GRANT SELECT ON app.customers, app.customer_totals TO rbt_reader;
INSERT INTO app.customers (email, mood, balance, location)
    SELECT 'user' || i || '@example.com', (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::app.mood,
           i * 1.5, ROW(i, i * 2, i * 3)::app.point3
    FROM generate_series(1, 200) i;
INSERT INTO app.orders (customer_id, amount, note, tags, payload, raw)
    SELECT 1 + i % 200, 1 + i % 97, CASE WHEN i % 5 = 0 THEN 'Note ' || i END,
           ARRAY['t' || i % 7, 'x'], jsonb_build_object('i', i, 'f', i / 3.0), decode(md5(i::text), 'hex')
    FROM generate_series(1, 1000) i;
INSERT INTO public.doomed SELECT i, 'v' || i FROM generate_series(1, 50) i;
REFRESH MATERIALIZED VIEW app.mood_counts;
