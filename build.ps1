#!/usr/bin/env pwsh
# Forwards to the build logic in build.cs (a .NET 10 file-based app): ./build.ps1 test
dotnet run "$PSScriptRoot/build.cs" -- @args
exit $LASTEXITCODE
