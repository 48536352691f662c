-- AlterTable
ALTER TABLE "order_view" ADD COLUMN     "cancelled_by" TEXT;
