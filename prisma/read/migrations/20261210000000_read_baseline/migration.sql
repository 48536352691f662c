-- The read database's tables as the migrations before the split left them (prisma/read/schema.prisma).

-- CreateEnum
-- On one database the write baseline created it already (the two schemas share it there).
DO $$ BEGIN
  CREATE TYPE "OrderStatus" AS ENUM ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

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
    "cancelled_by" TEXT,

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
CREATE TABLE "projection_dead_letter" (
    "projection" TEXT NOT NULL,
    "tx" BIGINT NOT NULL,
    "pos" BIGINT NOT NULL,
    "event_id" UUID NOT NULL,
    "event_type" TEXT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" UUID NOT NULL,
    "state" TEXT NOT NULL,
    "error" TEXT,
    "attempts" INTEGER NOT NULL,
    "parked_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "projection_dead_letter_pkey" PRIMARY KEY ("projection","tx","pos")
);

-- CreateTable
CREATE TABLE "projection_checkpoint" (
    "name" TEXT NOT NULL,
    "last_tx" BIGINT NOT NULL,
    "last_pos" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "stalled_error" TEXT,
    "stalled_since" TIMESTAMPTZ(3),

    CONSTRAINT "projection_checkpoint_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "order_view_change" (
    "tx" BIGINT NOT NULL,
    "pos" BIGINT NOT NULL,
    "order_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "view" JSONB NOT NULL,

    CONSTRAINT "order_view_change_pkey" PRIMARY KEY ("tx","pos","order_id")
);

-- CreateTable
CREATE TABLE "user_view_change" (
    "tx" BIGINT NOT NULL,
    "pos" BIGINT NOT NULL,
    "user_id" UUID NOT NULL,
    "view" JSONB NOT NULL,

    CONSTRAINT "user_view_change_pkey" PRIMARY KEY ("tx","pos","user_id")
);

-- CreateTable
CREATE TABLE "sales_order" (
    "order_id" UUID NOT NULL,
    "day" DATE NOT NULL,
    "status" "OrderStatus" NOT NULL,
    "total" DECIMAL(22,2) NOT NULL,
    "lines" JSONB NOT NULL,
    "version" INTEGER NOT NULL,

    CONSTRAINT "sales_order_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "sales_day" (
    "day" DATE NOT NULL,
    "orders_placed" INTEGER NOT NULL,
    "by_status" JSONB NOT NULL,
    "revenue" DECIMAL(22,2) NOT NULL,
    "products" JSONB NOT NULL,
    "last_tx" BIGINT NOT NULL,
    "last_pos" BIGINT NOT NULL,

    CONSTRAINT "sales_day_pkey" PRIMARY KEY ("day")
);

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

-- CreateIndex
CREATE INDEX "projection_dead_letter_projection_aggregate_type_aggregate__idx" ON "projection_dead_letter"("projection", "aggregate_type", "aggregate_id");

-- CreateIndex
CREATE INDEX "order_view_change_order_id_tx_pos_idx" ON "order_view_change"("order_id", "tx", "pos");

-- CreateIndex
CREATE INDEX "user_view_change_user_id_tx_pos_idx" ON "user_view_change"("user_id", "tx", "pos");

