// The demo's business tables: what your app already has. (A real app creates them with drizzle-kit.)
import { integer, numeric, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';

export const orders = pgTable('orders', {
  id: serial('id').primaryKey(),
  customer: text('customer').notNull(),
  status: text('status', { enum: ['new', 'paid', 'shipped'] }).notNull().default('new'),
  total: numeric('total', { precision: 12, scale: 2 }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The shipping service's table: its consumer writes a row per paid order. */
export const shipments = pgTable('shipments', {
  id: serial('id').primaryKey(),
  orderId: integer('order_id').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const ordersSql = `create table orders (id serial primary key, customer text not null,
  status text not null default 'new', total numeric(12,2) not null, created_at timestamptz not null default now())`;

export const shipmentsSql = `create table shipments (id serial primary key, order_id integer not null,
  created_at timestamptz not null default now())`;
