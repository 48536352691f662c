-- CreateEnum
CREATE TYPE "OrderStatus" AS ENUM ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED');

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "email_key" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "products" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "price" DECIMAL(14,2) NOT NULL,
    "version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "products_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "orders" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "status" "OrderStatus" NOT NULL,
    "cancellation_reason" TEXT,
    "total" DECIMAL(22,2) NOT NULL,
    "version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order_lines" (
    "order_id" UUID NOT NULL,
    "line_no" INTEGER NOT NULL,
    "product_id" UUID NOT NULL,
    "product_name" TEXT NOT NULL,
    "unit_price" DECIMAL(14,2) NOT NULL,
    "quantity" INTEGER NOT NULL,

    CONSTRAINT "order_lines_pkey" PRIMARY KEY ("order_id","line_no")
);

-- CreateTable
CREATE TABLE "event_log" (
    "position" BIGSERIAL NOT NULL,
    "tx_id" xid8 NOT NULL DEFAULT pg_current_xact_id(),
    "event_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "schema_version" INTEGER NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" UUID NOT NULL,
    "aggregate_version" INTEGER NOT NULL,
    "data" JSONB NOT NULL,
    "metadata" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "event_log_pkey" PRIMARY KEY ("position")
);

-- CreateTable
CREATE TABLE "order_view" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "user_name" TEXT NOT NULL,
    "user_email" TEXT NOT NULL,
    "items" JSONB NOT NULL,
    "item_count" INTEGER NOT NULL,
    "total" DECIMAL(22,2) NOT NULL,
    "status" "OrderStatus" NOT NULL,
    "cancellation_reason" TEXT,
    "version" INTEGER NOT NULL,
    "last_tx" BIGINT NOT NULL,
    "last_pos" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "order_view_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order_view_user" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "version" INTEGER NOT NULL,

    CONSTRAINT "order_view_user_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_view" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "order_count" INTEGER NOT NULL,
    "total_spent" DECIMAL(22,2) NOT NULL,
    "last_tx" BIGINT NOT NULL,
    "last_pos" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "user_view_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_view_order" (
    "order_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "total" DECIMAL(22,2) NOT NULL,
    "cancelled" BOOLEAN NOT NULL,
    "version" INTEGER NOT NULL,

    CONSTRAINT "user_view_order_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "product_view" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "price" DECIMAL(14,2) NOT NULL,
    "version" INTEGER NOT NULL,
    "last_tx" BIGINT NOT NULL,
    "last_pos" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "product_view_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "projection_checkpoint" (
    "name" TEXT NOT NULL,
    "last_tx" BIGINT NOT NULL,
    "last_pos" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "projection_checkpoint_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key_key" ON "users"("email_key");

-- CreateIndex
CREATE INDEX "orders_user_id_idx" ON "orders"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "event_log_event_id_key" ON "event_log"("event_id");

-- CreateIndex
CREATE UNIQUE INDEX "event_log_aggregate_type_aggregate_id_aggregate_version_key" ON "event_log"("aggregate_type", "aggregate_id", "aggregate_version");

-- CreateIndex (added by hand, declared in schema.prisma as @@index([txId, position]))
-- The event log is read in (tx_id, position) order.
CREATE INDEX "event_log_tx_id_position_idx" ON "event_log" ("tx_id", "position");

-- CreateIndex
CREATE INDEX "order_view_created_at_id_idx" ON "order_view"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "order_view_user_id_created_at_id_idx" ON "order_view"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "order_view_status_created_at_id_idx" ON "order_view"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "user_view_created_at_id_idx" ON "user_view"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "product_view_created_at_id_idx" ON "product_view"("created_at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "orders" ADD CONSTRAINT "orders_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
