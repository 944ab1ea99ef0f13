# RuleFlow server image. Build: docker build -t ruleflow .   (docker-compose.yml builds it for you)

# The Studio (web UI): built with Node, then copied into the server's wwwroot.
FROM node:20-bookworm-slim AS studio
WORKDIR /src
COPY docs/workflow.schema.json docs/
COPY src/RuleFlow.Studio/ src/RuleFlow.Studio/
RUN cd src/RuleFlow.Studio && npm ci --no-audit --no-fund && npm run build

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props RuleFlow.sln ./
COPY docs/workflow.schema.json docs/
COPY src/ src/
COPY --from=studio /src/src/RuleFlow.Server/wwwroot/studio/ src/RuleFlow.Server/wwwroot/studio/
# The SDK image has no Node: the Studio was built in the stage above.
RUN dotnet publish src/RuleFlow.Server/RuleFlow.Server.csproj -c Release -o /app --nologo -p:SkipStudioBuild=true

FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/ruleflow
COPY --from=build /app /app
# The content root: rule files, workflow definitions and (with SQLite) data/ live here.
COPY rules/ rules/
COPY workflows/ workflows/
ENV ASPNETCORE_URLS=http://0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["dotnet", "/app/RuleFlow.Server.dll", "--contentRoot", "/srv/ruleflow"]
