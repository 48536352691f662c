-- AlterTable
ALTER TABLE "projection_checkpoint" ADD COLUMN     "stalled_error" TEXT,
ADD COLUMN     "stalled_since" TIMESTAMPTZ(3);
