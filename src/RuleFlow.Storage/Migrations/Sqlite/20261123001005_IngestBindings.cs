using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace RuleFlow.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class IngestBindings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ingest_bindings",
                columns: table => new
                {
                    Queue = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    Exchange = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    RoutingKey = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    RecordedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ingest_bindings", x => new { x.Queue, x.Exchange, x.RoutingKey });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ingest_bindings");
        }
    }
}
