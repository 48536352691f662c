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
