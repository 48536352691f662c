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

-- CreateIndex
CREATE INDEX "order_view_change_order_id_tx_pos_idx" ON "order_view_change"("order_id", "tx", "pos");

-- CreateIndex
CREATE INDEX "user_view_change_user_id_tx_pos_idx" ON "user_view_change"("user_id", "tx", "pos");
