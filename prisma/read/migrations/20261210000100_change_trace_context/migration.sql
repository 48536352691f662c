-- AlterTable
ALTER TABLE "order_view_change" ADD COLUMN     "trace_context" JSONB;

-- AlterTable
ALTER TABLE "user_view_change" ADD COLUMN     "trace_context" JSONB;
